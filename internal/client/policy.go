package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"
)

// HeldHeader marks a change held under a freeze (ops.HeldHeader).
const HeldHeader = "Stadion-Approval"

// HeldError is the answer to a change held under a freeze: it runs once
// another admin approves it.
type HeldError struct {
	ID      string    `json:"approval"`
	Freeze  string    `json:"freeze"`
	Expires time.Time `json:"expires"`
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("freeze %q is on: the change is held as request %s until another admin runs 'stadion approvals approve %s' (it expires at %s)",
		e.Freeze, e.ID, e.ID, e.Expires.Local().Format("15:04:05"))
}

// Actor is who made or approved a change.
type Actor struct {
	KeyID  string `json:"key_id"`
	Client string `json:"client"`
	Role   string `json:"role,omitempty"`
	Label  string `json:"label,omitempty"`
}

// Name is the actor for people.
func (a *Actor) Name() string {
	if a == nil {
		return "-"
	}
	who := a.Label
	if who == "" {
		who = a.Client
	}
	return who + " (" + a.KeyID + ")"
}

// AuditEntry is one change in the audit trail (GET /v1/audit).
type AuditEntry struct {
	Seq        uint64          `json:"seq"`
	ID         string          `json:"id"`
	Time       time.Time       `json:"time"`
	Who        Actor           `json:"who"`
	ApprovedBy *Actor          `json:"approved_by,omitempty"`
	Approval   string          `json:"approval,omitempty"`
	Outcome    string          `json:"outcome"`
	Freeze     string          `json:"freeze,omitempty"`
	Method     string          `json:"method"`
	Route      string          `json:"route"`
	Path       string          `json:"path"`
	Area       string          `json:"area"`
	Status     int             `json:"status"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	Body       json.RawMessage `json:"body,omitempty"`
}

// AuditPage is one answer of GET /v1/audit.
type AuditPage struct {
	Entries []AuditEntry `json:"entries"`
	LastSeq uint64       `json:"last_seq"`
}

// Audit reads the trail: entries after afterSeq, or since since when
// afterSeq is 0; wait > 0 waits that long for a first entry.
func (r *Client) Audit(ctx context.Context, afterSeq uint64, since string, limit int, wait time.Duration) (AuditPage, error) {
	q := url.Values{}
	q.Set("limit", fmt.Sprint(limit))
	if afterSeq > 0 {
		q.Set("after_seq", fmt.Sprint(afterSeq))
	} else if since != "" {
		q.Set("since", since)
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	var page AuditPage
	err := r.Do(ctx, "GET", "/v1/audit?"+q.Encode(), "", nil, nil, &page)
	return page, err
}

// FollowAudit calls f with every entry from since (or the start) on,
// following new ones until ctx ends.
func (r *Client) FollowAudit(ctx context.Context, since string, f func(AuditEntry) error) error {
	var after uint64
	for {
		page, err := r.Audit(ctx, after, since, 500, 25*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, e := range page.Entries {
			if err := f(e); err != nil {
				return err
			}
		}
		if page.LastSeq > after {
			after = page.LastSeq
		}
	}
}

// Approval is a change held under a freeze (GET /v1/approvals).
type Approval struct {
	ID        string          `json:"id"`
	Created   time.Time       `json:"created"`
	Expires   time.Time       `json:"expires"`
	State     string          `json:"state"`
	Freeze    string          `json:"freeze"`
	By        Actor           `json:"requested_by"`
	Method    string          `json:"method"`
	Path      string          `json:"path"`
	Area      string          `json:"area"`
	Class     string          `json:"class"`
	Body      json.RawMessage `json:"body,omitempty"`
	DecidedBy *Actor          `json:"decided_by,omitempty"`
	Status    int             `json:"status,omitempty"`
}

// Freeze is a freeze window (GET /v1/freezes).
type Freeze struct {
	Name   string    `json:"name"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Scope  []string  `json:"scope"`
	Reason string    `json:"reason,omitempty"`
	By     Actor     `json:"by"`
	Active bool      `json:"active"`
}
