package abuse

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

// abusePublishers are the legitimate client's concurrent requests at
// most: enough that a slow answer does not delay the next due request.
const abusePublishers = 32

// abusePhase is one phase's measurement: the attack (none in the
// baseline) and the legitimate client beside it.
type abusePhase struct {
	Name   string             `json:"name"`
	Attack *abuseAttackResult `json:"attack,omitempty"`

	Publishes    int64       `json:"publishes"`
	PublishErrs  int64       `json:"publish_errors"`
	FirstPubErr  string      `json:"first_publish_error,omitempty"`
	Latency      rig.Latency `json:"publish_latency"`
	ReadyzPolls  int         `json:"readyz_polls"`
	ReadyzBad    int         `json:"readyz_not_200"`
	FirstReadyz  string      `json:"first_readyz_error,omitempty"`
	RSSBefore    uint64      `json:"rss_before_attack_bytes"`
	PeakRSS      uint64      `json:"peak_rss_bytes"` // VmRSS sampled every 100 ms while the attack held
	ServerFiles  uint64      `json:"server_open_file_limit"`
	ServerExit   string      `json:"server_exit,omitempty"`
	P99Ratio     float64     `json:"p99_ratio_to_baseline"`
	RSSDeltaMiB  float64     `json:"peak_rss_delta_to_baseline_mib"`
	Verdict      string      `json:"verdict"`
	MissedReason string      `json:"missed,omitempty"`
}

// runAbusePhase starts a fresh server, fills its backlog, sets the attack
// up, and measures the legitimate client while the attack holds.
func runAbusePhase(ctx context.Context, env cmdio.Env, o abuseOptions, dir, name string) (*abusePhase, error) {
	r, err := startAbuseServer(ctx, o.bin, filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	ph := &abusePhase{Name: name, ServerFiles: openFileLimit(r.srv.Cmd.Process.Pid)}
	defer func() {
		if err := r.stop(); err != nil {
			ph.ServerExit = err.Error()
		}
	}()
	if err := r.fill(ctx, o.backlog); err != nil {
		return nil, err
	}
	ph.RSSBefore, _ = r.srv.Rss()
	var attack abuseAttack
	if name != "baseline" {
		attack = newAbuseAttack(name, o, r)
		if err := attack.start(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			attack.stop()
			return nil, fmt.Errorf("setting the attack up: %w", err)
		}
	}
	w := watchServer(r)
	var stopBar func()
	if !o.json {
		stopBar = cmdio.ShowProgress(env.Stderr, "  "+name, o.warmup+o.duration)
	}
	res := rig.RunLoad(ctx, rig.LoadSpec{Workers: abusePublishers, Rate: o.rate, Warmup: o.warmup, Measure: o.duration}, r.legit)
	if stopBar != nil {
		stopBar()
	}
	w.stop()
	if attack != nil {
		a := attack.stop()
		ph.Attack = &a
	}
	ph.Publishes, ph.PublishErrs, ph.Latency = res.Requests, res.Errors, res.Lat.Summary()
	if res.FirstErr != nil {
		ph.FirstPubErr = res.FirstErr.Error()
	}
	ph.ReadyzPolls, ph.ReadyzBad, ph.FirstReadyz, ph.PeakRSS = w.polls, w.bad, w.firstBad, w.peakRSS
	return ph, ctx.Err()
}

// abuseTargets are the targets, as the report states them.
var abuseTargets = abuseTargetSet{P99Ratio: 2, ReadyzBad: 0, RSSDeltaMiB: 256}

type abuseTargetSet struct {
	P99Ratio    float64 `json:"publish_p99_ratio_at_most"`
	ReadyzBad   int     `json:"readyz_not_200_at_most"`
	RSSDeltaMiB float64 `json:"peak_rss_delta_mib_at_most"`
}

// judge sets each phase's figures against the baseline and its verdict.
func (r *abuseReport) judge() {
	if len(r.Phases) == 0 {
		return
	}
	base := r.Phases[0]
	for _, ph := range r.Phases {
		if base.Latency.P99 > 0 {
			ph.P99Ratio = ph.Latency.P99 / base.Latency.P99
		}
		ph.RSSDeltaMiB = cmdio.MiB(ph.PeakRSS) - cmdio.MiB(base.PeakRSS)
		var missed []string
		if ph.P99Ratio > r.Targets.P99Ratio {
			missed = append(missed, "p99")
		}
		if ph.PublishErrs > 0 {
			missed = append(missed, "publish errors")
		}
		if ph.ReadyzBad > r.Targets.ReadyzBad {
			missed = append(missed, "readyz")
		}
		if ph.RSSDeltaMiB > r.Targets.RSSDeltaMiB {
			missed = append(missed, "RSS")
		}
		if ph.Attack != nil && ph.Attack.Accepted > 0 {
			missed = append(missed, "bad passwords accepted")
		}
		ph.Verdict = "ok"
		if len(missed) > 0 {
			ph.Verdict, ph.MissedReason = "MISSED", joinAll(missed)
		}
	}
}

func joinAll(s []string) string {
	out := ""
	for _, x := range s {
		out = rig.Join(out, x)
	}
	return out
}

// abuseSettingsOf records the options a run used.
func abuseSettingsOf(o abuseOptions) abuseSettings {
	return abuseSettings{
		Server: o.bin, Topic: abuseTopic, Rate: o.rate, Backlog: o.backlog,
		WarmupSec: o.warmup.Seconds(), DurationSec: o.duration.Seconds(),
		SSE: o.sse, Half: o.half, Connects: o.connects, Attacks: o.attacks,
	}
}

type abuseSettings struct {
	Server      string   `json:"server"`
	Topic       string   `json:"topic"`
	Rate        float64  `json:"publish_rate"`
	Backlog     int      `json:"backlog_events"`
	WarmupSec   float64  `json:"warmup_s"`
	DurationSec float64  `json:"duration_s"`
	SSE         int      `json:"sse_streams"`
	Half        int      `json:"half_publish_conns"`
	Connects    float64  `json:"bad_connects_per_s"`
	Attacks     []string `json:"attacks"`
	BenchFiles  uint64   `json:"bench_open_file_limit"`
}
