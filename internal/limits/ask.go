package limits

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"
)

// Every process answers questions about its own counters and traffic on
// these subjects of stadion's own account (no client account imports
// them); the asker gathers the answers.
const (
	askStats    = "limits.ask.stats"
	askEstimate = "limits.ask.estimate"
	// askWait bounds a gathering: processes that have not answered by
	// then are left out (and counted as missing).
	askWait = 2 * time.Second
	// maxAskBody bounds a question (a plan's limits).
	maxAskBody = 1 << 20
)

type estimateQuestion struct {
	Specs  map[string]Spec `json:"specs"`
	Window time.Duration   `json:"window"`
}

type estimateAnswer struct {
	Estimates map[string]Estimate `json:"estimates"`
	Sampled   int64               `json:"sampled"`
	Error     string              `json:"error,omitempty"`
}

// answer subscribes this process to the questions.
func (s *Service) answer() error {
	st, err := s.nc.Subscribe(askStats, func(m *nats.Msg) {
		raw, _ := json.Marshal(s.lm.Counts())
		m.Respond(raw)
	})
	if err != nil {
		return err
	}
	est, err := s.nc.Subscribe(askEstimate, func(m *nats.Msg) {
		var q estimateQuestion
		var a estimateAnswer
		if len(m.Data) > maxAskBody || json.Unmarshal(m.Data, &q) != nil {
			a.Error = "unreadable question"
		} else if e, n, err := s.lm.EstimateAll(q.Specs, q.Window); err != nil {
			a.Error = err.Error()
		} else {
			a.Estimates, a.Sampled = e, n
		}
		raw, _ := json.Marshal(a)
		m.Respond(raw)
	})
	if err != nil {
		st.Unsubscribe()
		return err
	}
	s.subs = append(s.subs, st, est)
	// the engine knows the subscriptions once Start returns, so a
	// question asked right after reaches this process
	return s.nc.Flush()
}

// ask sends q to every process and returns the answers that arrived
// within askWait (or once as many as there are live processes did).
func (s *Service) ask(ctx context.Context, subject string, q []byte) ([][]byte, error) {
	inbox := s.nc.NewRespInbox()
	ch := make(chan *nats.Msg, 64)
	sub, err := s.nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := s.nc.PublishRequest(subject, inbox, q); err != nil {
		return nil, err
	}
	want := s.opts.Peers()
	t := time.NewTimer(askWait)
	defer t.Stop()
	var out [][]byte
	for len(out) < want {
		select {
		case m := <-ch:
			out = append(out, m.Data)
		case <-t.C:
			return out, nil
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
	return out, nil
}

// Stats sums every process's counts per limit; processes says how many
// answered.
func (s *Service) Stats(ctx context.Context) (map[string]Counts, int, error) {
	answers, err := s.ask(ctx, askStats, nil)
	if err != nil {
		return nil, 0, err
	}
	sum := map[string]Counts{}
	for _, raw := range answers {
		var c map[string]Counts
		if json.Unmarshal(raw, &c) != nil {
			continue
		}
		for name, v := range c {
			t := sum[name]
			t.Matched += v.Matched
			t.Limited += v.Limited
			t.ShadowLimited += v.ShadowLimited
			sum[name] = t
		}
	}
	return sum, len(answers), nil
}

// estimate sums every process's estimate for specs.
func (s *Service) estimate(ctx context.Context, specs map[string]Spec, window time.Duration) (map[string]Estimate, int64, int, error) {
	q, _ := json.Marshal(estimateQuestion{Specs: specs, Window: window})
	answers, err := s.ask(ctx, askEstimate, q)
	if err != nil {
		return nil, 0, 0, err
	}
	sum := map[string]Estimate{}
	var sampled int64
	for _, raw := range answers {
		var a estimateAnswer
		if json.Unmarshal(raw, &a) != nil || a.Error != "" {
			continue
		}
		sampled += a.Sampled
		for name, e := range a.Estimates {
			t := sum[name]
			t.Matched += e.Matched
			t.Refused += e.Refused
			t.Concurrency = t.Concurrency || e.Concurrency
			sum[name] = t
		}
	}
	return sum, sampled, len(answers), nil
}
