package live

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

// liveReport is everything a run of bench live measured (--json).
type liveReport struct {
	Machine  rig.Machine         `json:"machine"`
	Settings liveSetting         `json:"settings"`
	Brokers  []*liveBrokerResult `json:"brokers"`
	// LoadAvg is the machine's 1-minute load average before and after the
	// run: other processes competing for the CPUs skew every figure.
	LoadAvg [2]float64 `json:"load_avg"`
	// CommonRate is the highest ladder rate every broker (not the sink)
	// sustained; the p99 comparison is made there.
	CommonRate float64     `json:"common_rate"`
	Checks     []rig.Check `json:"checks"`
}

type liveSetting struct {
	Server      string  `json:"server"`
	Mosquitto   string  `json:"mosquitto"`
	Viewers     int     `json:"viewers"`
	Concurrency int     `json:"concurrency"`
	Subscribers int     `json:"subscribers"`
	Publishers  int     `json:"publishers"`
	Size        int     `json:"size"`
	Users       int     `json:"users"`
	Banned      int     `json:"banned_words"`
	WarmupSec   float64 `json:"warmup_s"`
	MeasureSec  float64 `json:"measure_s"`
	NATSSync    string  `json:"nats_sync"`
	QoS         []int   `json:"qos"`
	LatencyRate float64 `json:"latency_rate"`
	Sessions    int     `json:"sessions"`
	Owed        int     `json:"owed"`
}

// liveBrokerResult is one broker's measurements; a workload not run is nil.
type liveBrokerResult struct {
	Name        string       `json:"name"`
	Addr        string       `json:"addr,omitempty"`
	ColdStartMS float64      `json:"cold_start_ms,omitempty"`
	Error       string       `json:"error,omitempty"`
	Storm       *stormResult `json:"storm,omitempty"`
	Idle        *idleResult  `json:"idle,omitempty"`
	FanOut      *rampResult  `json:"fanout,omitempty"`
	Moderation  *rampResult  `json:"moderation,omitempty"`
	// QoS holds the fan-out at QoS 1 and 2 (QoS 0's is FanOut) and the
	// latency workload at each QoS.
	QoS       []*qosResult     `json:"qos,omitempty"`
	Reconnect *reconnectResult `json:"reconnect,omitempty"`
	// AtCommon is the fan-out step at the report's common rate.
	AtCommon *liveStep `json:"at_common_rate,omitempty"`
}

// idleResult is the broker's memory with the storm's clients connected.
type idleResult struct {
	Viewers      int     `json:"viewers"`
	BaseRSS      uint64  `json:"base_rss_bytes"`
	RSS          uint64  `json:"rss_bytes"`
	KiBPerViewer float64 `json:"kib_per_viewer"`
	Alive        int     `json:"alive_after"` // answered a PINGREQ afterwards
	StormCPU     float64 `json:"storm_cpu_s"` // broker CPU seconds for the storm
}

func (r *liveReport) broker(name string) *liveBrokerResult {
	for _, b := range r.Brokers {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// loadAvg is the 1-minute load average (0 when unknown).
func loadAvg() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(raw), " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}

// finish finds the common rate and judges the targets.
func (r *liveReport) finish(o liveOptions) {
	r.LoadAvg[1] = loadAvg()
	var ramps []*rampResult
	for _, b := range r.Brokers {
		if b.Name != "sink" && b.FanOut != nil && b.FanOut.Best != nil {
			ramps = append(ramps, b.FanOut)
		}
	}
	for rate := o.rate; rate <= o.maxRate; rate *= rampGrowth {
		ok := len(ramps) > 0
		for _, rp := range ramps {
			s := rp.at(rate)
			ok = ok && s != nil && s.Sustained
		}
		if !ok {
			break
		}
		r.CommonRate = rate
	}
	for _, b := range r.Brokers {
		b.AtCommon = b.FanOut.at(r.CommonRate)
	}
	r.Checks = liveChecks(r.broker("stadion"), r.broker("mosquitto"))
	if st := r.broker("stadion"); st != nil {
		r.Checks = append(r.Checks, qosChecks(st, r.broker("mosquitto"))...)
	}
}

// peak is the most deliveries/s of any step, sustained or not.
func (r *rampResult) peak() float64 {
	var v float64
	for _, s := range r.Steps {
		v = max(v, s.DeliveredPerSec)
	}
	return v
}

func (b *liveBrokerResult) bestFanOut() *liveStep {
	if b == nil || b.FanOut == nil {
		return nil
	}
	return b.FanOut.Best
}

// liveChecks are the targets: stadion against Mosquitto.
func liveChecks(st, mq *liveBrokerResult) []rig.Check {
	if st == nil {
		return nil
	}
	var cs []rig.Check
	sf, mf := st.bestFanOut(), mq.bestFanOut()
	if sf != nil && mf != nil {
		cs = append(cs, rig.NewCheck("fan-out deliveries/s, stadion/mosquitto", sf.DeliveredPerSec/mf.DeliveredPerSec, "", 1.5, false, ""))
	}
	if st.AtCommon != nil && mq != nil && mq.AtCommon != nil {
		cs = append(cs, rig.NewCheck(fmt.Sprintf("fan-out p99 at %s/s, stadion (<= mosquitto)", cmdio.Thousands(st.AtCommon.Rate)),
			st.AtCommon.Latency.P99, "ms", mq.AtCommon.Latency.P99, true, ""))
	}
	if st.Storm != nil && mq != nil && mq.Storm != nil {
		note := ""
		if st.Storm.Failures > 0 {
			note = fmt.Sprintf("%d failures, want 0", st.Storm.Failures)
		}
		c := rig.NewCheck("connects/s, stadion/mosquitto", st.Storm.PerSec/mq.Storm.PerSec, "", 1, false, note)
		if st.Storm.Failures > 0 {
			c.Status = "MISSED"
		}
		cs = append(cs, c)
	}
	if m := st.Moderation; m != nil {
		if m.Best != nil {
			cs = append(cs, rig.NewCheck("moderated comments/s accepted", m.Best.DeliveredPerSec, "/s", 20000, false, ""))
		} else {
			c := rig.NewCheck("moderated comments/s accepted", m.peak(), "/s", 20000, false, "no offered rate sustained; the most delivered")
			c.Status = "MISSED"
			cs = append(cs, c)
		}
	}
	if st.Idle != nil {
		cs = append(cs, rig.NewCheck("memory per idle viewer, stadion", st.Idle.KiBPerViewer, "KiB", 16, true, ""))
	}
	return cs
}

func (r *liveReport) print(w io.Writer) error {
	s := r.Settings
	fmt.Fprintf(w, "stadion bench live: machine %d CPUs %s/%s; each broker and the load generator are separate processes\n",
		r.Machine.CPUs, r.Machine.OS, r.Machine.Arch)
	fmt.Fprintf(w, "storm %d viewers (%d in flight); fan-out %d subscribers, %d publishers, %d-byte comments; moderation %d users, %d banned words\n",
		s.Viewers, s.Concurrency, s.Subscribers, s.Publishers, s.Size, s.Users, s.Banned)
	fmt.Fprintf(w, "each offered rate: %gs warm-up + %gs measured; sink = the load generator's ceiling; nats fsync: %s\n", s.WarmupSec, s.MeasureSec, s.NATSSync)
	fmt.Fprintf(w, "load average before / after: %.2f / %.2f (other processes share the CPUs)\n\n", r.LoadAvg[0], r.LoadAvg[1])
	if err := r.printTable(w); err != nil {
		return err
	}
	for _, b := range r.Brokers {
		if b.Error != "" {
			fmt.Fprintf(w, "%s: error: %s\n", b.Name, b.Error)
		}
	}
	if len(r.Checks) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CHECK\tVALUE\tTARGET\t")
		for _, c := range r.Checks {
			fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\n", c.Name, c.Shown(), c.Op(), c.Format(c.Target), c.Verdict())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return r.printSteps(w)
}

// printTable prints one row per figure, one column per broker, and the
// ratio of stadion to Mosquitto.
func (r *liveReport) printTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	head := []string{""}
	for _, b := range r.Brokers {
		head = append(head, b.Name)
	}
	st, mq := r.broker("stadion"), r.broker("mosquitto")
	withRatio := st != nil && mq != nil
	if withRatio {
		head = append(head, "stadion/mosquitto")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, row := range slices.Concat(liveRows(r.CommonRate), qosRows(r.Settings)) {
		cells := []string{row.name}
		for _, b := range r.Brokers {
			cells = append(cells, row.cell(b))
		}
		if withRatio {
			cells = append(cells, ratioCell(row, st, mq))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	return tw.Flush()
}

func ratioCell(row liveRow, st, mq *liveBrokerResult) string {
	if row.value == nil {
		return ""
	}
	a, b := row.value(st), row.value(mq)
	if a == 0 || b == 0 {
		return ""
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func (r *liveReport) printSteps(w io.Writer) error {
	for _, b := range r.Brokers {
		for _, rp := range []struct {
			name string
			r    *rampResult
		}{{"fan-out", b.FanOut}, {"fan-out QoS 1", b.fanOutAt(1)}, {"fan-out QoS 2", b.fanOutAt(2)}, {"moderation", b.Moderation}} {
			if rp.r == nil || len(rp.r.Steps) == 0 {
				continue
			}
			fmt.Fprintf(w, "\n%s %s steps:\n", b.Name, rp.name)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  OFFERED/S\tSENT/S\tDELIVERED/S\tP50\tP99\tLOST\tDRAIN\tSEND LAG\tBROKER CPU\tCLIENT CPU\tVERDICT")
			for _, s := range rp.r.Steps {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%.2f\t%.2f\t%s\n", cmdio.Thousands(s.Rate), cmdio.Thousands(s.SentPerSec),
					cmdio.Thousands(s.DeliveredPerSec), cmdio.FmtMS(s.Latency.P50), cmdio.FmtMS(s.Latency.P99), s.Lost, cmdio.FmtMS(s.DrainMS),
					cmdio.FmtMS(s.ClientLagMS), s.BrokerCPU, s.ClientCPU, s.verdict())
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}
