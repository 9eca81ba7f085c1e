package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
)

// Policy is the request policy in front of the whole API, after
// authentication: it classifies each request by its route (Table), refuses
// an admin key whose role is too weak, holds changes under a freeze for a
// second person's approval, and appends every change to the audit trail,
// once, with the resource before and after. Safe for concurrent use.
type Policy struct {
	table     map[string]Rule
	keys      *api.Keys
	audit     *Audit
	freezes   *Freezes
	approvals *Approvals
	log       *slog.Logger
	handler   atomic.Pointer[http.Handler]

	refused *prometheus.CounterVec
	held    prometheus.Counter
	decided *prometheus.CounterVec
}

// NewPolicy builds the policy over the engine's stores; SetHandler must
// be given the router before requests arrive.
func NewPolicy(keys *api.Keys, audit *Audit, freezes *Freezes, approvals *Approvals, reg prometheus.Registerer, log *slog.Logger) *Policy {
	p := &Policy{table: Table, keys: keys, audit: audit, freezes: freezes, approvals: approvals, log: log,
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_policy_refused_total", Help: "Requests of admin keys refused because their role is too weak, by role and route class.",
		}, []string{"role", "class"}),
		held: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_policy_held_total", Help: "Changes held for a second person's approval under a freeze.",
		}),
		decided: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_approvals_decided_total", Help: "Held changes decided on this process, by decision (approved, rejected).",
		}, []string{"decision"}),
	}
	if reg != nil {
		reg.MustRegister(p.refused, p.held, p.decided)
	}
	return p
}

// SetHandler gives the policy the router, through which it reads
// resources before and after a change and runs approved changes.
func (p *Policy) SetHandler(h http.Handler) { p.handler.Store(&h) }

// Rule returns the rule of a route pattern; an unclassified route is
// refused to every key.
func (p *Policy) Rule(pattern string) (Rule, bool) {
	r, ok := p.table[pattern]
	return r, ok
}

// HeldHeader carries the approval id of a change held under a freeze
// (answered 202), so that clients tell it from a change that ran.
const HeldHeader = "Stadion-Approval"

type approvedKey struct{}

// approvedRun is what an approved change runs with.
type approvedRun struct {
	id string
	by Actor
}

// Guard wraps a handler that runs after api.Authenticate.
func (p *Policy) Guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, _ := api.PrincipalFrom(r.Context())
		rule, ok := p.Rule(r.Pattern)
		if !ok {
			p.log.Error("policy: route not classified; refusing it (add it to ops.Table)", "route", r.Pattern)
			api.WriteError(w, r, api.Forbidden(fmt.Sprintf("route %q is not classified by the request policy; nobody may call it", r.Pattern)))
			return
		}
		if err := p.allowed(who, rule, r); err != nil {
			api.WriteError(w, r, err)
			return
		}
		if !rule.Change() {
			h.ServeHTTP(w, r)
			return
		}
		body, err := api.ReadBody(r, maxChangeBody)
		if err != nil {
			api.WriteError(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		run, _ := r.Context().Value(approvedKey{}).(*approvedRun)
		if run == nil && who.Client == api.AdminClient {
			if freeze := p.frozen(r, rule, body); freeze != "" {
				p.hold(w, r, who, rule, body, freeze)
				return
			}
		}
		p.change(w, r, h, who, rule, body, run)
	})
}

// allowed checks an admin key's role against the route's class. Keys of
// other clients have the rights the configuration gives them, which the
// handlers check.
func (p *Policy) allowed(who api.Principal, rule Rule, r *http.Request) error {
	if who.Client != api.AdminClient || rule.Class == Open {
		return nil
	}
	need := rule.Class.role()
	if api.RoleRank(who.Role) >= api.RoleRank(need) {
		return nil
	}
	p.refused.WithLabelValues(who.Role, rule.Class.String()).Inc()
	return api.Forbidden(fmt.Sprintf("%s %s needs the %s role; key %s (%s) has the %s role",
		r.Method, r.URL.Path, need, who.KeyID, labelOr(who.Label), who.Role))
}

func labelOr(label string) string {
	if label == "" {
		return "no label"
	}
	return label
}

// frozen returns the freeze that holds this change, or "".
func (p *Policy) frozen(r *http.Request, rule Rule, body []byte) string {
	if rule.Unfrozen {
		return ""
	}
	now := time.Now()
	if rule.AnyFreeze {
		name := p.freezes.Covering(now, "", "")
		// Adding a new freeze makes things stricter: never held.
		if name != "" && rule.Area == "freezes" && r.Method == http.MethodPut {
			if _, exists := p.freezes.Get(r.PathValue("name")); !exists {
				return ""
			}
		}
		return name
	}
	if name := p.freezes.Covering(now, rule.Area, ""); name != "" {
		return name
	}
	for _, v := range venuesOf(r, body) {
		if name := p.freezes.Covering(now, rule.Area, v); name != "" {
			return name
		}
	}
	return ""
}

// venuesOf are the venues a request names: its path's {venue}, a
// top-level "venue" member of its JSON body, and the "venue" members of
// objects in its top-level arrays (a batch of tickets).
func venuesOf(r *http.Request, body []byte) []string {
	var out []string
	if v := r.PathValue("venue"); v != "" {
		out = append(out, v)
	}
	var top map[string]json.RawMessage
	if len(body) == 0 || json.Unmarshal(body, &top) != nil {
		return out
	}
	var v string
	if json.Unmarshal(top["venue"], &v) == nil && v != "" {
		out = append(out, v)
	}
	for _, raw := range top {
		var items []struct {
			Venue string `json:"venue"`
		}
		if json.Unmarshal(raw, &items) != nil {
			continue
		}
		for _, it := range items {
			if it.Venue != "" && !slices.Contains(out, it.Venue) {
				out = append(out, it.Venue)
			}
		}
	}
	return out
}

// hold stores the change for approval and answers 202 with its id.
func (p *Policy) hold(w http.ResponseWriter, r *http.Request, who api.Principal, rule Rule, body []byte, freeze string) {
	if len(body) > maxHeldBody {
		api.WriteError(w, r, api.NewProblem(http.StatusRequestEntityTooLarge, "too-large", "Too large to hold",
			fmt.Sprintf("freeze %q is on and this change's body (%d bytes) is over the %d bytes a change held for approval may have; split it", freeze, len(body), maxHeldBody)))
		return
	}
	a, err := p.approvals.Create(r.Context(), Approval{
		Freeze: freeze, By: ActorOf(who), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Route: r.Pattern, Area: rule.Area, Class: rule.Class.String(),
		ContentType: r.Header.Get("Content-Type"), Body: body, BodyShown: redact(body),
	}, p.freezes.holdFor(freeze))
	if err != nil {
		api.WriteError(w, r, api.Unavailable(err.Error()))
		return
	}
	p.held.Inc()
	p.record(r.Context(), AuditEntry{ID: nuid.Next(), Time: a.Created, Who: a.By, Outcome: StatePending,
		Freeze: freeze, Approval: a.ID, Method: r.Method, Route: r.Pattern, Path: r.URL.Path,
		Area: rule.Area, Status: http.StatusAccepted, Body: a.BodyShown})
	w.Header().Set(HeldHeader, a.ID)
	api.WriteJSON(w, http.StatusAccepted, map[string]any{
		"approval": a.ID, "state": a.State, "freeze": freeze, "expires": a.Expires,
		"detail": fmt.Sprintf("freeze %q is on: this change waits for another admin's approval (stadion approvals approve %s) until %s",
			freeze, a.ID, a.Expires.Format(time.RFC3339)),
	})
}

// change runs a change and appends its entry to the audit trail.
func (p *Policy) change(w http.ResponseWriter, r *http.Request, h http.Handler, who api.Principal, rule Rule, body []byte, run *approvedRun) {
	if rule.Quiet {
		h.ServeHTTP(w, r)
		return
	}
	before := p.read(r, who, rule)
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	h.ServeHTTP(sw, r)
	e := AuditEntry{ID: nuid.Next(), Time: time.Now().UTC(), Who: ActorOf(who), Outcome: StateApplied,
		Method: r.Method, Route: r.Pattern, Path: r.URL.Path, Area: rule.Area, Status: sw.status,
		Before: before, After: p.read(r, who, rule), Body: redact(body)}
	if sw.status >= 400 {
		e.Outcome = "failed"
	}
	if run != nil {
		e.ApprovedBy, e.Approval = &run.by, run.id
	}
	p.record(r.Context(), e)
}

func (p *Policy) record(ctx context.Context, e AuditEntry) {
	if err := p.audit.Append(ctx, e); err != nil {
		raw, _ := json.Marshal(e)
		p.log.Error("audit: entry not stored", "err", err, "entry", string(raw))
	}
}

// read returns the resource the rule names, as its GET route shows it to
// the caller, or nil.
func (p *Policy) read(r *http.Request, who api.Principal, rule Rule) json.RawMessage {
	h := p.handler.Load()
	if rule.Resource == "" || h == nil {
		return nil
	}
	path := expand(rule.Resource, r)
	req, err := http.NewRequestWithContext(api.ActingAs(r.Context(), who), http.MethodGet, path, nil)
	if err != nil {
		return nil
	}
	rec := newRespRecorder(auditMaxPart)
	(*h).ServeHTTP(rec, req)
	if rec.status != http.StatusOK || !json.Valid(rec.body.Bytes()) {
		raw, _ := json.Marshal(map[string]any{"status": rec.status})
		if rec.clipped {
			raw, _ = json.Marshal(map[string]any{"clipped": true})
		}
		return raw
	}
	return json.RawMessage(bytes.TrimSpace(rec.body.Bytes()))
}

// expand fills {name} segments of a path template from r's path values.
func expand(tmpl string, r *http.Request) string {
	parts := strings.Split(tmpl, "/")
	for i, s := range parts {
		if name, ok := strings.CutPrefix(s, "{"); ok {
			parts[i] = url.PathEscape(r.PathValue(strings.TrimSuffix(name, "}")))
		}
	}
	return strings.Join(parts, "/")
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// respRecorder is an in-process response, its body kept up to max bytes.
type respRecorder struct {
	header  http.Header
	status  int
	body    bytes.Buffer
	max     int
	clipped bool
}

func newRespRecorder(max int) *respRecorder {
	return &respRecorder{header: http.Header{}, status: http.StatusOK, max: max}
}

func (r *respRecorder) Header() http.Header  { return r.header }
func (r *respRecorder) WriteHeader(code int) { r.status = code }
func (r *respRecorder) Write(b []byte) (int, error) {
	if room := r.max - r.body.Len(); room < len(b) {
		r.clipped = true
		r.body.Write(b[:max(room, 0)])
		return len(b), nil
	}
	return r.body.Write(b)
}

// secretMembers are JSON member names whose values never reach the audit
// trail or a listing of held changes.
var secretMembers = []string{"key", "token", "password", "secret", "credentials", "authorization", "signing_key", "private_key"}

// redact returns a JSON body with secret members' values replaced, or a
// note of its size when it is not JSON.
func redact(body []byte) json.RawMessage {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		raw, _ := json.Marshal(map[string]any{"bytes": len(body), "json": false})
		return raw
	}
	raw, _ := json.Marshal(redactValue(v))
	return clip(raw, auditMaxPart)
}

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if isSecret(k) {
				t[k] = "[redacted]"
				continue
			}
			t[k] = redactValue(x)
		}
	case []any:
		for i, x := range t {
			t[i] = redactValue(x)
		}
	}
	return v
}

func isSecret(name string) bool {
	n := strings.ToLower(name)
	for _, s := range secretMembers {
		if n == s || strings.HasSuffix(n, "_"+s) || strings.HasSuffix(n, "-"+s) {
			return true
		}
	}
	return false
}
