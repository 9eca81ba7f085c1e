package limits

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/config"
)

// PlansBucket records every application and reversal of a plan (the last
// 64 per plan).
const PlansBucket = "stadion-plans"

// ErrNoPlan is returned for a plan stadion.yaml does not declare.
var ErrNoPlan = errors.New("no such plan")

// PlanEvent is one application or reversal.
type PlanEvent struct {
	Plan   string    `json:"plan"`
	Action string    `json:"action"` // applied, reverted
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Limits []string  `json:"limits"`
}

// PlanState is a plan of the configuration and its last event.
type PlanState struct {
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Limits      []string   `json:"limits"`
	Applied     bool       `json:"applied"`
	Last        *PlanEvent `json:"last,omitempty"`
}

// limitName is the stored name of a plan's limit.
func limitName(plan, l string) string { return plan + "." + l }

func (s *Service) plan(name string) (*config.Plan, error) {
	p := s.cfg.Plans[name]
	if p == nil {
		return nil, fmt.Errorf("%w %q (plans are declared under plans: in stadion.yaml)", ErrNoPlan, name)
	}
	return p, nil
}

// Apply puts every limit of the plan in force (named PLAN.LIMIT) and
// records who applied it.
func (s *Service) Apply(ctx context.Context, name, by string) (PlanEvent, error) {
	p, err := s.plan(name)
	if err != nil {
		return PlanEvent{}, err
	}
	ev := PlanEvent{Plan: name, Action: "applied", By: by, At: time.Now().UTC().Truncate(time.Millisecond)}
	for _, l := range sortedNames(p.Limits) {
		if _, _, err := s.put(ctx, limitName(name, l), *p.Limits[l], name, by); err != nil {
			return PlanEvent{}, err
		}
		ev.Limits = append(ev.Limits, limitName(name, l))
	}
	return ev, s.record(ctx, ev)
}

// Revert removes every limit the plan set and records who reverted it.
func (s *Service) Revert(ctx context.Context, name, by string) (PlanEvent, error) {
	if _, err := s.plan(name); err != nil {
		return PlanEvent{}, err
	}
	ev := PlanEvent{Plan: name, Action: "reverted", By: by, At: time.Now().UTC().Truncate(time.Millisecond)}
	// the bucket, not this process's copy: a plan applied on another
	// replica a moment ago may not have reached it yet
	kl, err := s.kv.ListKeysFiltered(ctx, name+".*")
	if err != nil {
		return PlanEvent{}, fmt.Errorf("limits: list plan %s: %w", name, err)
	}
	var keys []string
	for k := range kl.Keys() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := s.kv.Delete(ctx, k); err != nil {
			return PlanEvent{}, fmt.Errorf("limits: delete %s: %w", k, err)
		}
		s.forget(k)
		ev.Limits = append(ev.Limits, k)
	}
	s.install(ctx)
	return ev, s.record(ctx, ev)
}

func (s *Service) record(ctx context.Context, ev PlanEvent) error {
	raw, _ := json.Marshal(ev)
	if _, err := s.pkv.Put(ctx, ev.Plan, raw); err != nil {
		return fmt.Errorf("limits: record plan %s: %w", ev.Plan, err)
	}
	return nil
}

// Plans lists the configuration's plans with their last event.
func (s *Service) Plans(ctx context.Context) ([]PlanState, error) {
	var out []PlanState
	for _, name := range sortedNames(s.cfg.Plans) {
		p := s.cfg.Plans[name]
		st := PlanState{Name: name, Description: p.Description}
		for _, l := range sortedNames(p.Limits) {
			st.Limits = append(st.Limits, limitName(name, l))
		}
		e, err := s.pkv.Get(ctx, name)
		switch {
		case err == nil:
			var ev PlanEvent
			if json.Unmarshal(e.Value(), &ev) == nil {
				st.Last, st.Applied = &ev, ev.Action == "applied"
			}
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// History returns a plan's recorded events, oldest first.
func (s *Service) History(ctx context.Context, name string) ([]PlanEvent, error) {
	if _, err := s.plan(name); err != nil {
		return nil, err
	}
	es, err := s.pkv.History(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return []PlanEvent{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []PlanEvent{}
	for _, e := range es {
		var ev PlanEvent
		if e.Operation() == jetstream.KeyValuePut && json.Unmarshal(e.Value(), &ev) == nil {
			out = append(out, ev)
		}
	}
	return out, nil
}

// DryRun is what applying a plan would change and do.
type DryRun struct {
	Plan    string       `json:"plan"`
	Window  string       `json:"window"`
	Changes []PlanChange `json:"changes"`
	Sampled int64        `json:"sampled_requests"`
	Answers int          `json:"processes_answered"`
	Peers   int          `json:"processes"`
	Note    string       `json:"note"`
}

// PlanChange is one limit of a dry run.
type PlanChange struct {
	Limit    string   `json:"limit"`
	Change   string   `json:"change"` // add, replace, unchanged
	Action   string   `json:"action"`
	Estimate Estimate `json:"estimate"`
}

// SampleWindow is how far back a dry run looks.
const SampleWindow = sampleSeconds * time.Second

// Preview answers a dry run: per limit of the plan, whether it is new,
// replaces a limit in force or is already in force, and how many requests
// of the last minutes (every process's sample) it would have matched and
// refused.
func (s *Service) Preview(ctx context.Context, name string) (DryRun, error) {
	p, err := s.plan(name)
	if err != nil {
		return DryRun{}, err
	}
	specs := map[string]Spec{}
	for l, sp := range p.Limits {
		n, err := Normalize(*sp, time.Now())
		if err != nil {
			return DryRun{}, err
		}
		specs[limitName(name, l)] = n
	}
	est, sampled, answers, err := s.estimate(ctx, specs, SampleWindow)
	if err != nil {
		return DryRun{}, err
	}
	d := DryRun{Plan: name, Window: SampleWindow.String(), Sampled: sampled, Answers: answers, Peers: s.opts.Peers(),
		Note: fmt.Sprintf("estimated from up to %d sampled requests per second per process, scaled to each second's count", samplePerSecond)}
	for _, n := range sortedNames(specs) {
		c := PlanChange{Limit: n, Change: "add", Action: specs[n].Action, Estimate: est[n]}
		if old, ok := s.Get(n); ok {
			c.Change = "replace"
			if sameSpec(old.Spec, specs[n]) {
				c.Change = "unchanged"
			}
		}
		d.Changes = append(d.Changes, c)
	}
	return d, nil
}

func sameSpec(a, b Spec) bool {
	a.Expires, b.Expires = nil, nil
	return reflect.DeepEqual(a, b)
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
