package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/api"
)

// Routes registers the freezes, the approvals and the audit trail:
// GET/PUT/DELETE /v1/freezes[/{name}], GET /v1/approvals[/{id}],
// POST /v1/approvals/{id}/approve|reject, GET /v1/audit.
func (p *Policy) Routes(mux *api.Mux, auth func(http.Handler) http.Handler) {
	h := func(f func(http.ResponseWriter, *http.Request) error) http.Handler {
		return auth(api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if err := api.RequireAdmin(r); err != nil {
				return err
			}
			return f(w, r)
		}))
	}
	mux.Handle("GET /v1/freezes", h(p.listFreezes))
	mux.Handle("GET /v1/freezes/{name}", h(p.getFreeze))
	mux.Handle("PUT /v1/freezes/{name}", h(p.putFreeze))
	mux.Handle("DELETE /v1/freezes/{name}", h(p.deleteFreeze))
	mux.Handle("GET /v1/approvals", h(p.listApprovals))
	mux.Handle("GET /v1/approvals/{id}", h(p.getApproval))
	mux.Handle("POST /v1/approvals/{id}/approve", h(p.approve))
	mux.Handle("POST /v1/approvals/{id}/reject", h(p.reject))
	mux.Handle("GET /v1/audit", h(p.readAudit))
}

// freezeBody is the body of PUT /v1/freezes/{name}.
type freezeBody struct {
	Start   *time.Time `json:"start"` // default: now
	End     time.Time  `json:"end"`
	Scope   []string   `json:"scope"`
	Reason  string     `json:"reason"`
	HoldFor Duration   `json:"hold_for"`
}

func (p *Policy) listFreezes(w http.ResponseWriter, r *http.Request) error {
	now := time.Now()
	out := []map[string]any{}
	for _, f := range p.freezes.List() {
		out = append(out, freezeJSON(f, now))
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"freezes": out})
	return nil
}

func freezeJSON(f Freeze, now time.Time) map[string]any {
	raw, _ := json.Marshal(f)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	m["active"] = f.Active(now)
	return m
}

func (p *Policy) getFreeze(w http.ResponseWriter, r *http.Request) error {
	f, ok := p.freezes.Get(r.PathValue("name"))
	if !ok {
		return api.NotFound(fmt.Sprintf("there is no freeze %q (stadion freeze list)", r.PathValue("name")))
	}
	api.WriteJSON(w, http.StatusOK, freezeJSON(f, time.Now()))
	return nil
}

func (p *Policy) putFreeze(w http.ResponseWriter, r *http.Request) error {
	var b freezeBody
	if err := api.DecodeJSON(r, 16<<10, &b); err != nil {
		return err
	}
	who, _ := api.PrincipalFrom(r.Context())
	now := time.Now().UTC()
	f := Freeze{Name: r.PathValue("name"), Start: now, End: b.End.UTC(), Scope: b.Scope, Reason: b.Reason, HoldFor: b.HoldFor, By: ActorOf(who), Created: now}
	if b.Start != nil {
		f.Start = b.Start.UTC()
	}
	if err := f.Validate(); err != nil {
		return api.BadRequest("freeze " + err.Error())
	}
	if err := p.freezes.Put(r.Context(), f); err != nil {
		return api.Unavailable(err.Error())
	}
	api.WriteJSON(w, http.StatusOK, freezeJSON(f, time.Now()))
	return nil
}

func (p *Policy) deleteFreeze(w http.ResponseWriter, r *http.Request) error {
	found, err := p.freezes.Delete(r.Context(), r.PathValue("name"))
	if err != nil {
		return api.Unavailable(err.Error())
	}
	if !found {
		return api.NotFound(fmt.Sprintf("there is no freeze %q", r.PathValue("name")))
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (p *Policy) listApprovals(w http.ResponseWriter, r *http.Request) error {
	list, err := p.approvals.List(r.Context(), r.URL.Query().Get("state") == StatePending)
	if err != nil {
		return api.Unavailable(err.Error())
	}
	if list == nil {
		list = []Approval{}
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"approvals": list})
	return nil
}

func (p *Policy) getApproval(w http.ResponseWriter, r *http.Request) error {
	a, _, err := p.approvals.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return approvalErr(err, r.PathValue("id"))
	}
	api.WriteJSON(w, http.StatusOK, a.public(time.Now()))
	return nil
}

func approvalErr(err error, id string) error {
	switch {
	case errors.Is(err, ErrNoApproval):
		return api.NotFound(fmt.Sprintf("there is no approval request %q (stadion approvals list)", id))
	case errors.Is(err, ErrDecided):
		return api.NewProblem(http.StatusConflict, "decided", "Already decided", fmt.Sprintf("request %s was decided by someone else meanwhile", id))
	}
	return api.Unavailable(err.Error())
}

// pending loads a request that may still be decided.
func (p *Policy) pending(ctx context.Context, id string) (Approval, uint64, error) {
	a, rev, err := p.approvals.Get(ctx, id)
	if err != nil {
		return a, 0, approvalErr(err, id)
	}
	if shown := a.public(time.Now()); shown.State != StatePending {
		return a, 0, api.NewProblem(http.StatusConflict, "decided", "Not pending",
			fmt.Sprintf("request %s is %s, not pending", id, shown.State))
	}
	return a, rev, nil
}

// approve runs a held change as its requester, once a second, different
// person with a strong enough role approves it.
func (p *Policy) approve(w http.ResponseWriter, r *http.Request) error {
	who, _ := api.PrincipalFrom(r.Context())
	a, rev, err := p.pending(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.mayApprove(who, a); err != nil {
		return err
	}
	requester, ok := p.keys.Record(a.By.KeyID)
	if !ok {
		return api.NewProblem(http.StatusConflict, "requester-revoked", "Requester's key revoked",
			fmt.Sprintf("the key %s that asked for this change was revoked; reject it and ask again", a.By.KeyID))
	}
	a, err = p.approvals.Decide(r.Context(), a, rev, StateApproved, ActorOf(who))
	if err != nil {
		return approvalErr(err, a.ID)
	}
	p.decided.WithLabelValues("approved").Inc()
	rec := p.run(r.Context(), a, api.PrincipalOf(requester, p.keys.Revoked(requester.ID)), ActorOf(who))
	a, err = p.approvals.Applied(r.Context(), a, rec.status)
	if err != nil {
		p.log.Error("approvals: could not record the result", "id", a.ID, "err", err)
	}
	result := map[string]any{"status": rec.status}
	if body := bytes.TrimSpace(rec.body.Bytes()); json.Valid(body) {
		result["body"] = json.RawMessage(body)
	}
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, http.StatusOK, map[string]any{"approval": a.public(time.Now()), "result": result})
	return nil
}

// mayApprove: another key, another person, a key made before the request,
// and a role as strong as the change needs.
func (p *Policy) mayApprove(who api.Principal, a Approval) error {
	switch {
	case who.KeyID == a.By.KeyID:
		return api.Forbidden("you asked for this change: another admin must approve it")
	case api.SamePerson(who.Label, a.By.Label):
		return api.Forbidden(fmt.Sprintf("this change was asked for by %s: a different person must approve it", a.By.Label))
	}
	if rec, ok := p.keys.Record(who.KeyID); ok && rec.Created.After(a.Created) {
		return api.Forbidden("your key was made after this change was asked for; approve with a key that existed before it")
	}
	need := "operator"
	if a.Class == Admin.String() {
		need = "admin"
	}
	if api.RoleRank(who.Role) < api.RoleRank(need) {
		return api.Forbidden(fmt.Sprintf("approving a change of class %s needs the %s role; you have %s", a.Class, need, who.Role))
	}
	return nil
}

// run replays a held request through the router as its requester.
func (p *Policy) run(ctx context.Context, a Approval, as api.Principal, by Actor) *respRecorder {
	rec := newRespRecorder(1 << 20)
	h := p.handler.Load()
	target := a.Path
	if a.Query != "" {
		target += "?" + a.Query
	}
	ctx = context.WithValue(api.ActingAs(context.WithoutCancel(ctx), as), approvedKey{}, &approvedRun{id: a.ID, by: by})
	req, err := http.NewRequestWithContext(ctx, a.Method, target, bytes.NewReader(a.Body))
	if err != nil || h == nil {
		rec.status = http.StatusInternalServerError
		return rec
	}
	if a.ContentType != "" {
		req.Header.Set("Content-Type", a.ContentType)
	}
	(*h).ServeHTTP(rec, req)
	return rec
}

func (p *Policy) reject(w http.ResponseWriter, r *http.Request) error {
	who, _ := api.PrincipalFrom(r.Context())
	a, rev, err := p.pending(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	a, err = p.approvals.Decide(r.Context(), a, rev, StateRejected, ActorOf(who))
	if err != nil {
		return approvalErr(err, a.ID)
	}
	p.decided.WithLabelValues("rejected").Inc()
	api.WriteJSON(w, http.StatusOK, a.public(time.Now()))
	return nil
}

// maxAuditPage and maxAuditWait bound one read of the trail.
const (
	maxAuditPage = 1000
	maxAuditWait = 30 * time.Second
)

// readAudit is GET /v1/audit?since=1h|RFC3339&after_seq=N&limit=N&wait=25s.
func (p *Policy) readAudit(w http.ResponseWriter, r *http.Request) error {
	q, err := auditQuery(r)
	if err != nil {
		return err
	}
	entries, err := p.audit.Read(r.Context(), q)
	if errors.Is(err, ErrTooManyFollowers) {
		return api.NewProblem(http.StatusTooManyRequests, "too-many-followers", "Too many followers",
			fmt.Sprintf("%d requests already follow the trail on this process; try again", maxAuditFollowers))
	}
	if err != nil && len(entries) == 0 && r.Context().Err() == nil {
		return api.Unavailable(err.Error())
	}
	if entries == nil {
		entries = []AuditEntry{}
	}
	last := q.AfterSeq
	if n := len(entries); n > 0 {
		last = entries[n-1].Seq
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"entries": entries, "last_seq": last})
	return nil
}

func auditQuery(r *http.Request) (AuditQuery, error) {
	v := r.URL.Query()
	q := AuditQuery{Limit: 100}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxAuditPage {
			return q, api.BadRequest(fmt.Sprintf("limit: %q is not a number from 1 to %d", s, maxAuditPage))
		}
		q.Limit = n
	}
	if s := v.Get("after_seq"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return q, api.BadRequest(fmt.Sprintf("after_seq: %q is not a sequence number", s))
		}
		q.AfterSeq = n
	}
	if s := v.Get("since"); s != "" {
		t, err := parseSince(s, time.Now())
		if err != nil {
			return q, api.BadRequest("since: " + err.Error())
		}
		q.Since = t
	}
	if s := v.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > maxAuditWait {
			return q, api.BadRequest(fmt.Sprintf("wait: %q is not a duration up to %s", s, maxAuditWait))
		}
		q.Wait = d
	}
	return q, nil
}

// parseSince reads "1h" (that long ago) or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration (1h) nor an RFC 3339 time", s)
	}
	return t, nil
}
