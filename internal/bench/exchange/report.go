package exchange

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

// exchangeReport is everything a run of bench exchange measured (--json).
type exchangeReport struct {
	Machine  rig.Machine     `json:"machine"`
	Settings exchangeSetting `json:"settings"`
	Disk     *rig.DiskProbe  `json:"disk"`
	Modes    []*exchangeMode `json:"modes"`
}

type exchangeSetting struct {
	Server       string  `json:"server"`
	Topic        string  `json:"topic"`
	Publishers   int     `json:"publishers"`
	Batch        int     `json:"batch"`
	Rate         float64 `json:"rate"`
	WarmupSec    float64 `json:"warmup_s"`
	DurationSec  float64 `json:"duration_s"`
	Events       int     `json:"distinct_events"`
	DataBytes    int     `json:"data_bytes_avg"`
	EnvelopeByte int     `json:"envelope_bytes_avg"`
}

// exchangeMode is the run against a server of one durability.
type exchangeMode struct {
	Durability  string        `json:"durability"`
	ColdStartMS float64       `json:"cold_start_ms"`
	IdleRSS     uint64        `json:"idle_rss_bytes"`
	PeakRSS     uint64        `json:"peak_rss_bytes"`
	Phases      []phaseResult `json:"phases"`
	Checks      []rig.Check   `json:"checks"`
}

func (m *exchangeMode) phase(key string) phaseResult {
	for _, p := range m.Phases {
		if p.Key == key {
			return p
		}
	}
	return phaseResult{}
}

// phaseResult is one phase's measurement. Latency is per request (a whole
// batch in c and d); in an open-loop phase it runs from the due time.
type phaseResult struct {
	Key          string      `json:"key"`
	Name         string      `json:"name"`
	Title        string      `json:"title"`
	Workers      int         `json:"workers"`
	OfferedRate  float64     `json:"offered_rate,omitempty"`
	Events       int64       `json:"events"`
	Requests     int64       `json:"requests"`
	Errors       int64       `json:"errors"`
	FirstError   string      `json:"first_error,omitempty"`
	Seconds      float64     `json:"seconds"`
	EventsPerSec float64     `json:"events_per_sec"`
	Latency      rig.Latency `json:"latency"`
	ServerCPU    float64     `json:"server_cpu_cores"`
	BenchCPU     float64     `json:"bench_cpu_cores"`
	CPUPerEvent  float64     `json:"server_cpu_us_per_event"`
}

func (r *exchangeReport) print(w io.Writer) error {
	s := r.Settings
	fmt.Fprintf(w, "stadion bench exchange: topic %s, %d demo documents, envelope ~%d B (data ~%d B)\n", s.Topic, s.Events, s.EnvelopeByte, s.DataBytes)
	fmt.Fprintf(w, "machine: %d CPUs %s/%s; server: %s up (own process); load: this process\n", r.Machine.CPUs, r.Machine.OS, r.Machine.Arch, s.Server)
	d := r.Disk
	fmt.Fprintf(w, "disk under %s: %d-byte append+fsync %s/s, p50 %s, p99 %s (the ceiling of durability always)\n",
		d.Dir, s.EnvelopeByte, cmdio.Thousands(d.PerSec), cmdio.FmtMS(d.Latency.P50), cmdio.FmtMS(d.Latency.P99))
	fmt.Fprintf(w, "each phase: %gs warm-up + %gs measured, on an emptied stream; latency per request (a batch in c, d),\n", s.WarmupSec, s.DurationSec)
	fmt.Fprintln(w, "from the due time in e (open loop); CPU in cores busy on average, and the server's per event")
	for _, m := range r.Modes {
		fmt.Fprintln(w)
		if err := m.print(w); err != nil {
			return err
		}
	}
	return nil
}

func (m *exchangeMode) print(w io.Writer) error {
	fmt.Fprintf(w, "durability %s: cold start %s, idle RSS %s, peak RSS %s\n",
		m.Durability, cmdio.FmtMS(m.ColdStartMS), cmdio.FmtMiB(m.IdleRSS), cmdio.FmtMiB(m.PeakRSS))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tEVENTS/S\tP50\tP99\tERRORS\tSERVER CPU\tPER EVENT\tBENCH CPU")
	for _, p := range m.Phases {
		fmt.Fprintf(tw, "(%s) %s\t%s\t%s\t%s\t%d\t%.2f\t%.0f µs\t%.2f\n", p.Key, p.Title, cmdio.Thousands(p.EventsPerSec),
			p.lat(p.Latency.P50), p.lat(p.Latency.P99), p.Errors, p.ServerCPU, p.CPUPerEvent, p.BenchCPU)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tVALUE\tTARGET\t")
	for _, c := range m.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\n", c.Name, c.Shown(), c.Op(), c.Format(c.Target), c.Verdict())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range m.Phases {
		if p.FirstError != "" {
			fmt.Fprintf(w, "(%s) first error: %s\n", p.Key, p.FirstError)
		}
	}
	return nil
}

// lat formats a latency of p, n/a when no request was measured.
func (p phaseResult) lat(v float64) string {
	if p.Requests == p.Errors {
		return "n/a"
	}
	return cmdio.FmtMS(v)
}
