// Package deadletter is stadion's one dead-letter store: the events a
// subscription (kind sub) or a sink (kind sink) gave up on, each owner's in
// its own stream DLQ_<kind>_<owner> on subject dlq.<kind>.<owner>, kept until
// they are redriven or dropped. It also holds the one retry schedule that
// leads there (Schedule) and the watch that turns the engine's
// max-deliveries advisories into dead letters (Watch).
//
// It imports no stadion package but internal/loop: the exchange and the
// delivery capability import it, each storing its own kind's record as JSON.
package deadletter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Kind is whose dead letters a store holds.
type Kind string

const (
	Sub  Kind = "sub"  // a durable subscription's (pull or webhook)
	Sink Kind = "sink" // a database sink's
)

// StreamName and Subject name owner's dead-letter stream.
func StreamName(k Kind, owner string) string { return "DLQ_" + string(k) + "_" + owner }
func Subject(k Kind, owner string) string    { return "dlq." + string(k) + "." + owner }

// Limits bound one owner's dead letters. A store that is full refuses a
// new letter (ErrFull) instead of dropping an old one, so the event stays
// where it was (unacknowledged, or its advisory unhandled) and nothing is
// lost; the health checks show the count long before. (A byte limit is
// left out on purpose: the engine reserves a stream's byte limit from its
// storage up front, for every owner. A letter is at most one event, so
// exchange.max_body bounds the bytes.)
type Limits struct {
	MaxLetters int64
}

// DefaultLimits are the bounds of every owner's stream.
var DefaultLimits = Limits{MaxLetters: 100_000}

// ErrFull means the owner's dead-letter stream is at its limit.
var ErrFull = errors.New("dead-letter stream is full: redrive or drop its dead letters")

// Store is the dead letters of one kind. It is safe for concurrent use; it
// holds no state of its own (all of it is in the engine), so any number of
// processes may use the same owners at once.
type Store struct {
	js     jetstream.JetStream
	kind   Kind
	limits Limits
	m      *metrics
}

// New returns the store of kind on js (whose replica count and placement
// every stream it creates takes), its series registered on reg (nil: not
// registered). Zero limits are DefaultLimits.
func New(js jetstream.JetStream, kind Kind, reg prometheus.Registerer, limits Limits) *Store {
	if limits.MaxLetters <= 0 {
		limits.MaxLetters = DefaultLimits.MaxLetters
	}
	return &Store{js: js, kind: kind, limits: limits, m: newMetrics(reg, kind)}
}

// Kind is the store's kind.
func (s *Store) Kind() Kind { return s.kind }

// Open creates owner's stream, or updates one an older binary made (which
// keeps its letters): desc and meta describe it.
//
// The stream does not allow direct gets: those are answered by any copy,
// and a node restarted after a crash serves its copy once it is 90%
// caught up, so an operator asking that node would see an old list and
// redrive from it. Lists are rare and small; the leader answers them.
// Opening a stream an older binary made with direct gets turns them off.
func (s *Store) Open(ctx context.Context, owner, desc string, meta map[string]string) error {
	_, err := s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: StreamName(s.kind, owner), Description: desc,
		Subjects: []string{Subject(s.kind, owner)}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, AllowDirect: false, Metadata: meta,
		MaxMsgs: s.limits.MaxLetters, Discard: jetstream.DiscardNew,
	})
	if err != nil {
		return fmt.Errorf("dead-letter stream %s: %w", StreamName(s.kind, owner), err)
	}
	return nil
}

// Drop deletes owner's stream with its letters (the owner is gone).
func (s *Store) Drop(ctx context.Context, owner string) error {
	err := s.js.DeleteStream(ctx, StreamName(s.kind, owner))
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return err
	}
	return nil
}

// Put stores letter (any JSON value) as a dead letter of owner and returns
// its id once the engine has acknowledged it. A non-empty msgID makes a
// repeated Put within the engine's dedupe window (two minutes) store
// nothing and return the first one's id: whoever retries after a crash, or
// a second process handling the same failure, adds no second letter.
func (s *Store) Put(ctx context.Context, owner, msgID string, letter any) (uint64, error) {
	id, _, err := s.PutOnce(ctx, owner, msgID, letter)
	return id, err
}

// PutOnce is Put that also reports whether this call stored the letter
// (false: an earlier Put with msgID did), so that whoever counts and logs
// letters does it once when two processes handle the same failure.
func (s *Store) PutOnce(ctx context.Context, owner, msgID string, letter any) (uint64, bool, error) {
	raw, err := json.Marshal(letter)
	if err != nil {
		return 0, false, err
	}
	msg := &nats.Msg{Subject: Subject(s.kind, owner), Data: raw, Header: nats.Header{}}
	if msgID != "" {
		msg.Header.Set(nats.MsgIdHdr, msgID)
	}
	ack, err := s.js.PublishMsg(ctx, msg)
	if err != nil {
		if isFull(err) {
			s.m.full.Inc()
			return 0, false, fmt.Errorf("%s: %w", StreamName(s.kind, owner), ErrFull)
		}
		return 0, false, err
	}
	if ack.Duplicate {
		// A duplicate whose original is gone (discarded, and the event given
		// up again) is stored anew: a letter is never dropped for a copy
		// that no longer exists.
		st, err := s.js.Stream(ctx, StreamName(s.kind, owner))
		if err != nil {
			return 0, false, err
		}
		if _, err := st.GetMsg(ctx, ack.Sequence); !errors.Is(err, jetstream.ErrMsgNotFound) {
			return ack.Sequence, false, err // the original is there (or the check failed: retried)
		}
		msg.Header.Set(nats.MsgIdHdr, msgID+":"+strconv.FormatInt(time.Now().UnixNano(), 36))
		if ack, err = s.js.PublishMsg(ctx, msg); err != nil {
			return 0, false, err
		}
	}
	s.m.stored.Inc()
	return ack.Sequence, true, nil
}

// Entry is one stored dead letter: its id (its sequence in the stream),
// when it was stored and the owner's JSON record.
type Entry struct {
	ID     uint64
	Stored time.Time
	Data   json.RawMessage
}

// List returns up to limit dead letters of owner with ids above after, in
// the order they were stored. An owner without a stream has none.
func (s *Store) List(ctx context.Context, owner string, after uint64, limit int) ([]Entry, error) {
	out := []Entry{}
	st, err := s.js.Stream(ctx, StreamName(s.kind, owner))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	subj := Subject(s.kind, owner)
	for seq := after + 1; len(out) < limit; {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{ID: m.Sequence, Stored: m.Time, Data: m.Data})
		seq = m.Sequence + 1
	}
	return out, nil
}

// Get returns the dead letters with the given ids, each once, in the
// order asked, leaving out those that are gone.
func (s *Store) Get(ctx context.Context, owner string, ids []uint64) ([]Entry, error) {
	out := []Entry{}
	seen := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		if id == 0 || seen[id] {
			continue
		}
		seen[id] = true
		got, err := s.List(ctx, owner, id-1, 1)
		if err != nil {
			return nil, err
		}
		if len(got) == 1 && got[0].ID == id {
			out = append(out, got[0])
		}
	}
	return out, nil
}

// Remove deletes the given dead letters, or all of them when ids is empty,
// and says how many it deleted (an id already gone counts nothing).
func (s *Store) Remove(ctx context.Context, owner string, ids []uint64) (int, error) {
	n, err := s.remove(ctx, owner, ids)
	s.m.dropped.Add(float64(n))
	return n, err
}

func (s *Store) remove(ctx context.Context, owner string, ids []uint64) (int, error) {
	st, err := s.js.Stream(ctx, StreamName(s.kind, owner))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		// Purge up to the last sequence seen, so a letter stored
		// meanwhile is not counted as deleted without being deleted.
		info, err := st.Info(ctx)
		if err != nil || info.State.Msgs == 0 {
			return 0, err
		}
		return int(info.State.Msgs), st.Purge(ctx, jetstream.WithPurgeSequence(info.State.LastSeq+1))
	}
	n := 0
	for _, id := range ids {
		err := st.DeleteMsg(ctx, id)
		if errors.Is(err, jetstream.ErrMsgNotFound) || errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Stats is what the health checks and the daily inspection read.
type Stats struct {
	Count  uint64
	Oldest time.Time // zero when there are none
}

// Age says how old the oldest letter is, for a health check's detail:
// "" without letters, else ", the oldest 3h0m0s old".
func (st Stats) Age(now time.Time) string {
	if st.Count == 0 || st.Oldest.IsZero() {
		return ""
	}
	return ", the oldest " + now.Sub(st.Oldest).Round(time.Second).String() + " old"
}

// Stats counts owner's dead letters and dates the oldest.
func (s *Store) Stats(ctx context.Context, owner string) (Stats, error) {
	st, err := s.js.Stream(ctx, StreamName(s.kind, owner))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return Stats{}, nil
	}
	if err != nil {
		return Stats{}, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return Stats{}, err
	}
	out := Stats{Count: info.State.Msgs}
	if out.Count > 0 {
		out.Oldest = info.State.FirstTime
	}
	return out, nil
}

// isFull says whether the engine refused a write for the stream's limits.
func isFull(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "maximum messages exceeded") || strings.Contains(msg, "maximum bytes exceeded")
}

func formatUint(n uint64) string { return strconv.FormatUint(n, 10) }

// Decode reads each entry's record into a T (an owner's letter type) and
// hands it the entry's id through setID.
func Decode[T any](es []Entry, setID func(*T, uint64)) ([]T, error) {
	out := make([]T, 0, len(es))
	for _, e := range es {
		var v T
		if err := json.Unmarshal(e.Data, &v); err != nil {
			return nil, fmt.Errorf("dead letter %d: %w", e.ID, err)
		}
		setID(&v, e.ID)
		out = append(out, v)
	}
	return out, nil
}

// DecodeOne is Decode of one entry.
func DecodeOne[T any](e Entry, setID func(*T, uint64)) (T, error) {
	vs, err := Decode([]Entry{e}, setID)
	if err != nil {
		var zero T
		return zero, err
	}
	return vs[0], nil
}
