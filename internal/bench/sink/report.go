package sink

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

// sinkReport is everything a run of bench sink measured (--json).
type sinkReport struct {
	Machine  rig.Machine    `json:"machine"`
	Settings sinkSetting    `json:"settings"`
	Backends []*sinkBackend `json:"databases"`
	Skipped  string         `json:"skipped,omitempty"`
}

type sinkSetting struct {
	Server     string  `json:"server"`
	Events     int     `json:"events"`
	Batch      int     `json:"batch"`
	Publishers int     `json:"publishers"`
	RateLimit  float64 `json:"rate_limit_per_s"`
	RateEvents int     `json:"rate_events"`
}

// sinkBackend is the run against one database.
type sinkBackend struct {
	Database      string        `json:"database"`
	Reference     string        `json:"reference"`
	Publish       publishResult `json:"publish"`
	PublishPerSec float64       `json:"publish_per_s"`
	DrainSeconds  float64       `json:"drain_s"`
	DrainPerSec   float64       `json:"drain_rows_per_s"`
	Rows          int64         `json:"rows"`
	Lost          int64         `json:"lost"`
	WrongRows     int64         `json:"wrong_rows"`
	DeadLetters   int64         `json:"dead_letters"`
	PlainPerSec   float64       `json:"plain_rows_per_s"`
	Ratio         float64       `json:"sink_over_plain"`
	CopyPerSec    float64       `json:"copy_rows_per_s,omitempty"` // PostgreSQL: plain COPY, not idempotent
	RatioCopy     float64       `json:"sink_over_copy,omitempty"`
	Rate          *sinkRate     `json:"rate,omitempty"`
	Checks        []rig.Check   `json:"checks"`
}

// sinkRate is the max_rate phase.
type sinkRate struct {
	Configured float64      `json:"configured_per_s"`
	Events     int64        `json:"events"`
	Achieved   float64      `json:"achieved_per_s"`
	PeakSecond float64      `json:"peak_second_per_s"`
	Deviation  float64      `json:"deviation"` // achieved/configured - 1
	Samples    []rateSample `json:"samples"`
}

// sinkChecks are the targets for one database.
func sinkChecks(o sinkOptions, b *sinkBackend) []rig.Check {
	exact := rig.NewCheck("events without exactly one row", float64(b.Lost+b.WrongRows), "", 0, true, "")
	if b.Lost+b.WrongRows == 0 {
		exact.Status = "ok"
	}
	capacity := rig.NewCheck("rejected for capacity", float64(b.Publish.RejectedCapacity), "", 0, true, "")
	if b.Publish.RejectedCapacity == 0 {
		capacity.Status = "ok"
	}
	cs := []rig.Check{capacity, exact,
		rig.NewCheck("sink/plain "+b.Reference, b.Ratio, "", 0.7, false, ""),
	}
	if b.Rate != nil {
		dev := b.Rate.Deviation
		if dev < 0 {
			dev = -dev
		}
		c := rig.NewCheck("max_rate deviation", dev*100, "%", 10, true, fmt.Sprintf("%s rows/s of %s", cmdio.Thousands(b.Rate.Achieved), cmdio.Thousands(b.Rate.Configured)))
		if dev == 0 && b.Rate.Achieved > 0 {
			c.Status = "ok"
		}
		cs = append(cs, c)
	}
	return cs
}

func (r *sinkReport) print(w io.Writer) error {
	s := r.Settings
	fmt.Fprintf(w, "stadion bench sink: topic arrivals -> sink %s, %d events (one key each), batches of %d, %d publishers\n",
		sinkName, s.Events, s.Batch, s.Publishers)
	fmt.Fprintf(w, "machine: %d CPUs %s/%s; server: %s up (own process); load and plain loops: this process\n",
		r.Machine.CPUs, r.Machine.OS, r.Machine.Arch, s.Server)
	for _, b := range r.Backends {
		fmt.Fprintln(w)
		b.print(w)
	}
	if r.Skipped != "" {
		fmt.Fprintf(w, "\n%s\n", r.Skipped)
	}
	return nil
}

func (b *sinkBackend) print(w io.Writer) {
	p := b.Publish
	fmt.Fprintf(w, "%s\n", b.Database)
	fmt.Fprintf(w, "  publish: %d accepted, %d rejected for capacity, %d rejected otherwise in %.2fs (%s events/s)\n",
		p.Accepted, p.RejectedCapacity, p.RejectedOther, p.Seconds, cmdio.Thousands(b.PublishPerSec))
	if p.FirstError != "" {
		fmt.Fprintf(w, "  first rejection: %s\n", p.FirstError)
	}
	fmt.Fprintf(w, "  table: %d rows, %d lost, %d wrong or duplicate, %d dead letters\n", b.Rows, b.Lost, b.WrongRows, b.DeadLetters)
	fmt.Fprintf(w, "  sink drain:   %s rows/s (%.2fs)\n", cmdio.Thousands(b.DrainPerSec), b.DrainSeconds)
	fmt.Fprintf(w, "  plain %s: %s rows/s\n", b.Reference, cmdio.Thousands(b.PlainPerSec))
	fmt.Fprintf(w, "  sink/plain:   %.2f\n", b.Ratio)
	if b.CopyPerSec > 0 {
		fmt.Fprintf(w, "  plain COPY (not idempotent): %s rows/s, sink/COPY %.2f\n", cmdio.Thousands(b.CopyPerSec), b.RatioCopy)
	}
	if rt := b.Rate; rt != nil {
		fmt.Fprintf(w, "  max_rate %s/s: %d events, %s rows/s from 25%% to 95%% of them (%+.1f%%), fastest second %s rows/s\n",
			cmdio.Thousands(rt.Configured), rt.Events, cmdio.Thousands(rt.Achieved), rt.Deviation*100, cmdio.Thousands(rt.PeakSecond))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range b.Checks {
		fmt.Fprintf(tw, "  %s\t%s\t%s %s\t%s\n", c.Name, c.Shown(), c.Op(), c.Format(c.Target), c.Verdict())
	}
	tw.Flush()
}
