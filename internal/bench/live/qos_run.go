package live

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

// qosResult is the fan-out and latency workloads at one QoS.
type qosResult struct {
	QoS     int         `json:"qos"`
	FanOut  *rampResult `json:"fanout,omitempty"` // QoS 1 and 2; QoS 0's is liveBrokerResult.FanOut
	Latency *liveStep   `json:"latency,omitempty"`
}

func (o *liveOptions) parseQoS(list string) error {
	names, err := parseList("--qos", list, "0", "1", "2")
	if err != nil {
		return err
	}
	o.qos = nil
	for _, n := range names {
		q, _ := strconv.Atoi(n)
		o.qos = append(o.qos, q)
	}
	slices.Sort(o.qos)
	return nil
}

// qosOf returns the broker's result at qos, added if missing.
func (b *liveBrokerResult) qosOf(qos int) *qosResult {
	for _, q := range b.QoS {
		if q.QoS == qos {
			return q
		}
	}
	q := &qosResult{QoS: qos}
	b.QoS = append(b.QoS, q)
	return q
}

// fanOutAt is the fan-out ramp at qos.
func (b *liveBrokerResult) fanOutAt(qos int) *rampResult {
	if b == nil {
		return nil
	}
	if qos == 0 {
		return b.FanOut
	}
	for _, q := range b.QoS {
		if q.QoS == qos {
			return q.FanOut
		}
	}
	return nil
}

// latencyAt is the latency workload's step at qos.
func (b *liveBrokerResult) latencyAt(qos int) *liveStep {
	if b == nil {
		return nil
	}
	for _, q := range b.QoS {
		if q.QoS == qos {
			return q.Latency
		}
	}
	return nil
}

// runFanOuts runs the fan-out ramp at each QoS. The sink (the load
// generator's ceiling) grants QoS 0 only and runs at QoS 0.
func runFanOuts(ctx context.Context, env cmdio.Env, o liveOptions, lc *liveClient, b *liveBroker, res *liveBrokerResult) error {
	for _, q := range o.qos {
		if q > 0 && b.name == "sink" {
			continue
		}
		fmt.Fprintf(env.Stderr, "  fan-out to %d subscribers at QoS %d\n", o.subscribers, q)
		r, err := fanOutRamp(ctx, env, o, lc, b, q)
		if q == 0 {
			res.FanOut = r
		} else {
			res.qosOf(q).FanOut = r
		}
		if err != nil {
			return fmt.Errorf("fan-out at QoS %d: %w", q, err)
		}
	}
	return nil
}

// runLatency offers --latency-rate to --subscribers at each QoS.
func runLatency(ctx context.Context, env cmdio.Env, o liveOptions, lc *liveClient, b *liveBroker, res *liveBrokerResult) error {
	for _, q := range o.qos {
		if q > 0 && b.name == "sink" {
			continue
		}
		fmt.Fprintf(env.Stderr, "  latency at %g comments/s to %d subscribers, QoS %d\n", o.latencyRate, o.subscribers, q)
		creds, err := b.posters(ctx, o.publishers)
		if err != nil {
			return err
		}
		if err := settleCPU(ctx, b.pid); err != nil {
			return err
		}
		load := liveReq{Op: "load", Addr: b.addr, Conns: o.subscribers, Filter: b.comments, PostTopic: b.post,
			Posters: creds, TimeoutMS: int(o.timeout / time.Millisecond), QoS: q}
		if _, err := lc.call(load); err != nil {
			return fmt.Errorf("latency at QoS %d: %w", q, err)
		}
		s, err := runStep(ctx, env, o, lc, b, o.latencyRate)
		lc.call(liveReq{Op: "unload"})
		if err != nil {
			return fmt.Errorf("latency at QoS %d: %w", q, err)
		}
		res.qosOf(q).Latency = s
	}
	return nil
}

// runReconnect is the reconnect storm against one broker.
func runReconnect(ctx context.Context, env cmdio.Env, o liveOptions, lc *liveClient, b *liveBroker) (*reconnectResult, error) {
	fmt.Fprintf(env.Stderr, "  reconnect storm: %d persistent sessions, %d comments owed each\n", o.sessions, o.owed)
	prefix := fmt.Sprintf("rs%d-%d-", os.Getpid(), time.Now().UnixNano()%1e6)
	timeout := int(o.timeout / time.Millisecond)
	resp, err := lc.call(liveReq{Op: "storm", Addr: b.addr, Conns: o.sessions, Concurrency: o.concurrency,
		Filter: b.comments, TimeoutMS: timeout, QoS: 1, Keep: true, Prefix: prefix})
	if err != nil {
		return nil, err
	}
	if s := resp.Storm; s.Failures > 0 {
		return nil, fmt.Errorf("%d of %d sessions failed to subscribe: %s", s.Failures, s.Conns, s.FirstError)
	}
	if _, err := lc.call(liveReq{Op: "close"}); err != nil { // DISCONNECT: the sessions stay
		return nil, err
	}
	creds, err := b.posters(ctx, 1)
	if err != nil {
		return nil, err
	}
	// One online QoS 1 subscriber witnesses that the owed comments went
	// through the broker before the sessions return.
	if _, err := lc.call(liveReq{Op: "load", Addr: b.addr, Conns: 1, Filter: b.comments, PostTopic: b.post,
		Posters: creds, TimeoutMS: timeout, QoS: 1}); err != nil {
		return nil, err
	}
	post, err := lc.call(liveReq{Op: "post", Conns: o.owed, Size: o.size})
	lc.call(liveReq{Op: "unload"})
	if err != nil {
		return nil, err
	}
	if err := settleCPU(ctx, b.pid); err != nil {
		return nil, err
	}
	resp, err = lc.call(liveReq{Op: "reconnect", Addr: b.addr, Conns: o.sessions, Concurrency: o.concurrency,
		TimeoutMS: timeout, Prefix: prefix, Size: o.owed})
	if err != nil {
		return nil, err
	}
	r := resp.Reconnect
	r.Witnessed = post.Received
	fmt.Fprintf(env.Stderr, "  %d/%d reconnected; %s of %s delivered, %d lost, %d duplicated; drained in %.2fs\n",
		r.Connected, r.Sessions, cmdio.Thousands(float64(r.Received-r.Duplicates)), cmdio.Thousands(float64(r.Expected)), r.Lost, r.Duplicates, r.DrainSec)
	return r, nil
}

func qosRows(o liveSetting) []liveRow {
	var rows []liveRow
	for _, q := range o.QoS {
		if q > 0 {
			rows = append(rows,
				liveRow{fmt.Sprintf("fan-out QoS %d: max comments/s", q), qosBestCell(q, func(s *liveStep) string { return cmdio.Thousands(s.Rate) }), nil},
				liveRow{"  deliveries/s", qosBestCell(q, func(s *liveStep) string { return cmdio.Thousands(s.DeliveredPerSec) }),
					func(b *liveBrokerResult) float64 {
						return ifStep(b.fanOutAt(q).best(), func(s *liveStep) float64 { return s.DeliveredPerSec })
					}},
				liveRow{"  p50 / p99 there", qosBestCell(q, func(s *liveStep) string { return cmdio.FmtMS(s.Latency.P50) + " / " + cmdio.FmtMS(s.Latency.P99) }), nil},
			)
		}
	}
	for _, q := range o.QoS {
		rows = append(rows, liveRow{fmt.Sprintf("at %s comments/s, QoS %d: p50 / p99", cmdio.Thousands(o.LatencyRate), q),
			func(b *liveBrokerResult) string {
				return stepCell(b.latencyAt(q), func(s *liveStep) string {
					return cmdio.FmtMS(s.Latency.P50) + " / " + cmdio.FmtMS(s.Latency.P99) + okMark(s)
				})
			},
			func(b *liveBrokerResult) float64 {
				return ifStep(b.latencyAt(q), func(s *liveStep) float64 { return s.Latency.P99 })
			}})
	}
	rec := func(f func(r *reconnectResult) string) func(*liveBrokerResult) string {
		return func(b *liveBrokerResult) string {
			if b.Reconnect == nil {
				return "-"
			}
			return f(b.Reconnect)
		}
	}
	rows = append(rows,
		liveRow{"reconnect storm: delivered / owed", rec(func(r *reconnectResult) string {
			return cmdio.Thousands(float64(r.Received-r.Duplicates)) + " / " + cmdio.Thousands(float64(r.Expected))
		}), nil},
		liveRow{"  lost / duplicated", rec(func(r *reconnectResult) string { return fmt.Sprintf("%d / %d", r.Lost, r.Duplicates) }), nil},
		liveRow{"  reconnected / failures", rec(func(r *reconnectResult) string { return fmt.Sprintf("%d / %d", r.Connected, r.Failures) }), nil},
		liveRow{"  time to drain", rec(func(r *reconnectResult) string { return fmt.Sprintf("%.2f s", r.DrainSec) }),
			func(b *liveBrokerResult) float64 {
				if b.Reconnect == nil {
					return 0
				}
				return b.Reconnect.DrainSec
			}},
	)
	return rows
}

// okMark flags a latency step whose rate was not sustained.
func okMark(s *liveStep) string {
	if s.Sustained {
		return ""
	}
	return " (not sustained)"
}

func qosBestCell(q int, f func(*liveStep) string) func(*liveBrokerResult) string {
	return func(b *liveBrokerResult) string {
		r := b.fanOutAt(q)
		if r == nil {
			return "-"
		}
		return stepCell(r.Best, f)
	}
}

func (r *rampResult) best() *liveStep {
	if r == nil {
		return nil
	}
	return r.Best
}

// qosChecks are the issue 11 targets: p99 at the live rate against
// Mosquitto's (moonshot: half), and the reconnect storm losing nothing.
func qosChecks(st, mq *liveBrokerResult) []rig.Check {
	var cs []rig.Check
	if s, m := st.latencyAt(0), mq.latencyAt(0); s != nil && m != nil {
		name := fmt.Sprintf("p99 at %s/s QoS 0, stadion (<= mosquitto)", cmdio.Thousands(s.Rate))
		cs = append(cs, rig.NewCheck(name, s.Latency.P99, "ms", m.Latency.P99, true, ""))
	}
	if r := st.Reconnect; r != nil {
		note := ""
		if r.Duplicates > 0 {
			note = fmt.Sprintf("%d duplicated", r.Duplicates)
		}
		if r.Lost > 0 {
			note = strings.TrimPrefix(note+fmt.Sprintf(", %d lost", r.Lost), ", ")
		}
		delivered := float64(r.Received-r.Duplicates) / float64(max(r.Expected, 1))
		c := rig.NewCheck("reconnect storm, stadion: delivered/owed", delivered, "", 1, false, note)
		if r.Duplicates > 0 || r.Lost > 0 {
			c.Status = "MISSED"
		}
		cs = append(cs, c)
	}
	return cs
}
