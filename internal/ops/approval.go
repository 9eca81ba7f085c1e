package ops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ApprovalsBucket holds the changes held under a freeze, waiting for a
// second person, and what became of them.
const ApprovalsBucket = "stadion-approvals"

const (
	// approvalTTL is how long a held change waits for its approval.
	approvalTTL = time.Hour
	// approvalKeep is how long decided requests stay listed.
	approvalKeep = 7 * 24 * time.Hour
	// maxHeldBody bounds the body of a change held for approval.
	maxHeldBody = 256 << 10
	// maxChangeBody bounds the body of any change (the largest, a chunk
	// of 500 tickets, is read under 4 MiB by its handler too).
	maxChangeBody = 4 << 20
)

// Approval states.
const (
	StatePending  = "pending"
	StateApproved = "approved" // approved, running (or the runner died)
	StateApplied  = "applied"  // approved and run: Status says how it ended
	StateRejected = "rejected"
	StateExpired  = "expired"
)

// Approval is a change held under a freeze.
type Approval struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	State   string    `json:"state"`
	Freeze  string    `json:"freeze"`
	By      Actor     `json:"requested_by"`
	Method  string    `json:"method"`
	Path    string    `json:"path"`
	Query   string    `json:"query,omitempty"`
	Route   string    `json:"route"`
	Area    string    `json:"area"`
	Class   string    `json:"class"`
	// ContentType and Body are the request as sent (the body is shown
	// redacted: BodyShown).
	ContentType string          `json:"content_type,omitempty"`
	Body        []byte          `json:"body_raw,omitempty"`
	BodyShown   json.RawMessage `json:"body,omitempty"`
	Decider     *Actor          `json:"decided_by,omitempty"`
	Decided     time.Time       `json:"decided,omitzero"`
	Status      int             `json:"status,omitempty"` // the change's HTTP status, once applied
}

// public is a for showing: without the raw body.
func (a Approval) public(now time.Time) Approval {
	a.Body = nil
	if a.State == StatePending && !now.Before(a.Expires) {
		a.State = StateExpired
	}
	return a
}

// Approvals stores held changes. Safe for concurrent use; decisions are
// compare-and-set, so of two approvals racing on two replicas one wins and
// the change runs once.
type Approvals struct {
	kv jetstream.KeyValue
}

// Errors of a decision.
var (
	ErrNoApproval = errors.New("no such approval request")
	ErrDecided    = errors.New("the request was already decided")
)

// OpenApprovals opens (creating) the bucket.
func OpenApprovals(ctx context.Context, js jetstream.JetStream) (*Approvals, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: ApprovalsBucket, Description: "stadion changes held under a freeze", History: 1,
		TTL: approvalKeep, MaxValueSize: 2 * maxHeldBody, MaxBytes: 256 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("approvals: open bucket: %w", err)
	}
	return &Approvals{kv: kv}, nil
}

// Create stores a new pending request, waiting ttl, and returns it with
// its id.
func (s *Approvals) Create(ctx context.Context, a Approval, ttl time.Duration) (Approval, error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	a.ID, a.State = hex.EncodeToString(b), StatePending
	a.Created = time.Now().UTC()
	a.Expires = a.Created.Add(ttl)
	raw, _ := json.Marshal(a)
	if _, err := s.kv.Create(ctx, a.ID, raw); err != nil {
		return Approval{}, fmt.Errorf("approvals: store: %w", err)
	}
	return a, nil
}

// Get returns request id and its revision.
func (s *Approvals) Get(ctx context.Context, id string) (Approval, uint64, error) {
	e, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return Approval{}, 0, ErrNoApproval
	}
	if err != nil {
		return Approval{}, 0, err
	}
	var a Approval
	if err := json.Unmarshal(e.Value(), &a); err != nil {
		return Approval{}, 0, fmt.Errorf("approvals: unreadable record %s", id)
	}
	return a, e.Revision(), nil
}

// Decide moves a pending request to state (approved or rejected) by who,
// if nobody decided it since revision rev.
func (s *Approvals) Decide(ctx context.Context, a Approval, rev uint64, state string, who Actor) (Approval, error) {
	a.State, a.Decider, a.Decided = state, &who, time.Now().UTC()
	raw, _ := json.Marshal(a)
	if _, err := s.kv.Update(ctx, a.ID, raw, rev); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return Approval{}, ErrDecided
		}
		return Approval{}, fmt.Errorf("approvals: store: %w", err)
	}
	return a, nil
}

// Applied records the status of an approved change that ran.
func (s *Approvals) Applied(ctx context.Context, a Approval, status int) (Approval, error) {
	a.State, a.Status = StateApplied, status
	raw, _ := json.Marshal(a)
	if _, err := s.kv.Put(ctx, a.ID, raw); err != nil {
		return a, fmt.Errorf("approvals: store: %w", err)
	}
	return a, nil
}

// maxListed bounds a listing.
const maxListed = 1000

// List returns the requests (newest first, at most maxListed); pending
// only when pending is set.
func (s *Approvals) List(ctx context.Context, pending bool) ([]Approval, error) {
	keys, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var out []Approval
	for k := range keys.Keys() {
		a, _, err := s.Get(ctx, k)
		if err != nil {
			continue
		}
		a = a.public(now)
		if pending && a.State != StatePending {
			continue
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y Approval) int { return y.Created.Compare(x.Created) })
	if len(out) > maxListed {
		out = out[:maxListed]
	}
	return out, nil
}
