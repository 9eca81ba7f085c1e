package ops

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/ops"
	"github.com/stadion-dev/stadion/internal/ops/drain"
)

var Command = &rig.Command{
	Name:  "ops",
	Short: "cost of SLO evaluation and log mining at 10,000 lines/s and 100 SLOs; miner lines/s against a plain tokenizer; Loghub grouping accuracy",
	Long: `Runs, in this process, the log path of a stadion server (slog to a text
handler) at --rate lines/s for --duration twice: once plain (the
reference) and once with the anomaly tee and miner attached and --slos
SLOs evaluated every --interval over a registry of as many counters. The
difference in CPU time is the cost of ops, printed as a share of one core
(target: under 5%), beside the heap ops holds (target: under 64 MiB).
SLO counts stay in memory here (no engine): on a server each SLO adds two
engine writes per interval.

It then runs the health service on an embedded engine with
--health-checks checks and --health-history minutes of their history
already in the engine, and measures the CPU of the first evaluation of a
minute (which computes each check's day-high and records the minute) and
of the ones after it; a minute holds one of the first and
60s/--health-interval − 1 of the others. That share of one core, and the
heap the service holds (the history), are added to the cost of ops.
With history it waits for the next minute boundary (up to a minute).

Then it mines a generated corpus with the template miner and splits the
same lines with a plain regex-free tokenizer loop (strings.Fields), and
prints both lines/s and their ratio. With --loghub DIR (a local copy of
the Loghub *_2k.log_structured.csv files, github.com/logpai/loghub) it
prints the grouping accuracy per dataset and the mean, beside Drain's
published figures. Figures on a shared machine are noisy.`,
	Example: `stadion bench ops
stadion bench ops --rate 10000 --slos 100 --duration 20s --loghub ~/loghub --json`,
	Flags: func(fs *flag.FlagSet) func(context.Context, cmdio.Env, []string) error {
		o := opsBenchOptions{}
		fs.IntVar(&o.Rate, "rate", 10000, "log lines per second")
		fs.IntVar(&o.SLOs, "slos", 100, "SLOs evaluated")
		fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each of the two runs")
		fs.DurationVar(&o.Interval, "interval", time.Second, "SLO evaluation interval (the default policy is 30s: 1s is 30 times the work)")
		fs.IntVar(&o.MineLines, "mine-lines", 200000, "lines of the throughput comparison")
		fs.StringVar(&o.Loghub, "loghub", "", "directory of Loghub *_2k.log_structured.csv files (optional)")
		fs.IntVar(&o.HealthChecks, "health-checks", 1000, "health checks scored (the server keeps history for at most 1,000)")
		fs.DurationVar(&o.HealthInterval, "health-interval", 15*time.Second, "health evaluation interval (health.interval's default)")
		fs.IntVar(&o.HealthHistory, "health-history", 1440, "minutes of check history in the engine before measuring (a day; 0: none, no wait for a minute boundary)")
		asJSON := fs.Bool("json", false, "machine-readable JSON output")
		return func(ctx context.Context, env cmdio.Env, args []string) error {
			if len(args) > 0 {
				return cmdio.UsageErr("bench ops takes no arguments")
			}
			if o.Rate < 1 || o.SLOs < 0 || o.Duration < time.Second || o.Interval < 100*time.Millisecond || o.MineLines < 1000 {
				return cmdio.UsageErr("--rate ≥ 1, --slos ≥ 0, --duration ≥ 1s, --interval ≥ 100ms, --mine-lines ≥ 1000")
			}
			if o.HealthChecks < 1 || o.HealthChecks > 5000 || o.HealthInterval < time.Second || o.HealthHistory < 0 || o.HealthHistory > 1440 {
				return cmdio.UsageErr("--health-checks 1-5000, --health-interval ≥ 1s, --health-history 0-1440")
			}
			res, err := runBenchOps(ctx, env, o)
			if err != nil {
				return err
			}
			if *asJSON {
				return cmdio.PrintJSON(env.Stdout, res)
			}
			res.print(env.Stdout)
			return nil
		}
	},
}

type opsBenchOptions struct {
	Rate, SLOs, MineLines       int
	Duration, Interval          time.Duration
	Loghub                      string
	HealthChecks, HealthHistory int
	HealthInterval              time.Duration
}

type opsBenchResult struct {
	Rate            int                `json:"lines_per_sec"`
	SLOs            int                `json:"slos"`
	PlainCPU        float64            `json:"plain_cpu_share"` // of one core
	OpsCPU          float64            `json:"ops_cpu_share"`
	CostCPU         float64            `json:"ops_cost_cpu_share"`
	OpsHeapMiB      float64            `json:"ops_heap_mib"`
	LogCPU          float64            `json:"log_slo_cost_cpu_share"` // tee, miner and SLOs
	LogHeapMiB      float64            `json:"log_slo_heap_mib"`
	Health          *healthCostResult  `json:"health"`
	Templates       int                `json:"classes"`
	MinerLinesPS    float64            `json:"miner_lines_per_sec"`
	TokenizeLinesPS float64            `json:"tokenizer_lines_per_sec"`
	Ratio           float64            `json:"miner_to_tokenizer"`
	Accuracy        map[string]float64 `json:"loghub_accuracy,omitempty"`
	MeanAccuracy    float64            `json:"loghub_mean_accuracy,omitempty"`
}

func runBenchOps(ctx context.Context, env cmdio.Env, o opsBenchOptions) (*opsBenchResult, error) {
	res := &opsBenchResult{Rate: o.Rate, SLOs: o.SLOs}
	fmt.Fprintf(env.Stderr, "plain log path: %d lines/s for %s...\n", o.Rate, o.Duration)
	plain := cpuOf(func() { logAtRate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), o.Rate, o.Duration, nil) })
	res.PlainCPU = plain.Seconds() / o.Duration.Seconds()

	fmt.Fprintf(env.Stderr, "with ops: tee, miner and %d SLOs every %s...\n", o.SLOs, o.Interval)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	feed := ops.NewLogFeed()
	log := slog.New(ops.NewLogTee(slog.NewTextHandler(io.Discard, nil), feed))
	cfg, reg, counters, err := opsBenchConfig(o.SLOs, o.Interval)
	if err != nil {
		return nil, err
	}
	slos, err := ops.NewSLOs(ctx, cfg, nil, reg, discardAlerter{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	an := ops.NewAnomalies(cfg.Anomalies, "cloud", discardAlerter{}, nil)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	var heap uint64
	withOps := cpuOf(func() {
		go func() { an.Run(rctx, feed); done <- struct{}{} }()
		go func() { slos.Run(rctx); done <- struct{}{} }()
		logAtRate(ctx, log, o.Rate, o.Duration, counters)
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
		cancel()
		<-done
		<-done
	})
	res.OpsCPU = withOps.Seconds() / o.Duration.Seconds()
	res.LogCPU = max(res.OpsCPU-res.PlainCPU, 0)
	res.LogHeapMiB = float64(heap) / (1 << 20)
	res.Templates = len(an.Classes())

	fmt.Fprintf(env.Stderr, "health: %d checks every %s with %d minutes of history in an embedded engine...\n", o.HealthChecks, o.HealthInterval, o.HealthHistory)
	if res.Health, err = healthCost(ctx, o.HealthChecks, o.HealthHistory, o.HealthInterval); err != nil {
		return nil, err
	}
	res.CostCPU = res.LogCPU + res.Health.CPUShare
	res.OpsHeapMiB = res.LogHeapMiB + res.Health.HeapMiB

	lines := benchLogLines(o.MineLines)
	fmt.Fprintf(env.Stderr, "miner against a plain tokenizer on %d lines...\n", len(lines))
	res.MinerLinesPS, res.TokenizeLinesPS = minerThroughput(lines)
	res.Ratio = res.MinerLinesPS / res.TokenizeLinesPS
	if o.Loghub != "" {
		acc, mean, err := loghubAccuracy(o.Loghub)
		if err != nil {
			return nil, err
		}
		res.Accuracy, res.MeanAccuracy = acc, mean
	}
	return res, nil
}

// cpuOf is the process CPU time (user + system) f used.
func cpuOf(f func()) time.Duration {
	t0 := processCPU()
	f()
	return processCPU() - t0
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// logAtRate logs rate lines a second, in 10 ms batches, for d; counters
// (the SLOs' indicators) are bumped with every line.
func logAtRate(ctx context.Context, log *slog.Logger, rate int, d time.Duration, counters *prometheus.CounterVec) {
	lines := benchLogLines(1000)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	end := time.Now().Add(d)
	per, carry, i := rate/100, rate%100, 0
	for n := 0; time.Now().Before(end); n++ {
		k := per
		if n%100 < carry {
			k++
		}
		for range k {
			l := lines[i%len(lines)]
			i++
			if strings.Contains(l, "failed") {
				log.Warn(l, "attempt", i%7, "sink", "results-db")
			} else {
				log.Info(l, "seq", i, "topic", "results")
			}
			if counters != nil {
				outcome := "ok"
				if i%50 == 0 {
					outcome = "failed"
				}
				counters.WithLabelValues(fmt.Sprint("s", i%100), outcome).Inc()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// benchLogLines are n lines shaped like a server's: 40 templates with
// ids, numbers, addresses and keys varying.
func benchLogLines(n int) []string {
	shapes := []string{
		"publish accepted topic=results seq=%d id=%08x",
		"webhook delivery failed subscription=sub-%d status=503 attempt=%d",
		"sink batch written sink=results-db rows=%d took=%dms",
		"client connected from 10.0.%d.%d:51234",
		"viewer %d joined room medals at offset %d",
		"gate scan admitted venue=venue-bn ticket=%x lane=%d",
		"capture frame stored job=cam-%d bytes=%d",
		"engine advisory CONSUMER MAX_DELIVERIES TOPIC_results sink-%d attempt %d",
		"key rotated client=results-feed key=sk_live_%016x%04d",
		"mqtt session expired client=%d after %ds",
	}
	out := make([]string, n)
	for i := range out {
		s := shapes[i%len(shapes)]
		variant := (i / len(shapes)) % 4
		out[i] = fmt.Sprintf(s, i*7919%100000, i%97) + strings.Repeat(" extra", variant)
	}
	return out
}

func minerThroughput(lines []string) (miner, tokenizer float64) {
	m := drain.New(drain.Options{})
	t0 := time.Now()
	for _, l := range lines {
		m.Add(l)
	}
	miner = float64(len(lines)) / time.Since(t0).Seconds()
	sink := 0
	t0 = time.Now()
	for _, l := range lines {
		sink += len(strings.Fields(l))
	}
	tokenizer = float64(len(lines)) / time.Since(t0).Seconds()
	if sink == 0 {
		tokenizer = 0
	}
	return miner, tokenizer
}

// drainPublished is Drain's grouping accuracy per Loghub dataset (Zhu et
// al., ICSE-SEIP 2019, table of 16 datasets; mean 0.865).
var drainPublished = map[string]float64{
	"HDFS": 0.998, "Hadoop": 0.948, "Spark": 0.920, "Zookeeper": 0.967, "OpenStack": 0.733, "BGL": 0.963,
	"HPC": 0.887, "Thunderbird": 0.955, "Windows": 0.997, "Linux": 0.690, "Mac": 0.787, "Android": 0.911,
	"HealthApp": 0.780, "Apache": 1.000, "OpenSSH": 0.788, "Proxifier": 0.527,
}

func loghubAccuracy(dir string) (map[string]float64, float64, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*_2k.log_structured.csv"))
	if len(files) == 0 {
		return nil, 0, fmt.Errorf("--loghub %s: no *_2k.log_structured.csv files (fetch github.com/logpai/loghub)", dir)
	}
	acc := map[string]float64{}
	sum := 0.0
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, 0, err
		}
		lines, err := drain.ReadStructured(f)
		f.Close()
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", name, err)
		}
		a := drain.GroupingAccuracy(lines, drain.Options{})
		acc[strings.TrimSuffix(filepath.Base(name), "_2k.log_structured.csv")] = a
		sum += a
	}
	return acc, sum / float64(len(files)), nil
}

// opsBenchConfig has n delivery SLOs over a registry of push counters.
func opsBenchConfig(n int, interval time.Duration) (*config.Config, *prometheus.Registry, *prometheus.CounterVec, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "slo_policy:\n  interval: %s\nslos:\n", interval)
	for i := range n {
		fmt.Fprintf(&b, "  s%d:\n    objective: 0.99\n    indicator: {builtin: delivery_success, subscription: s%d}\n", i, i)
	}
	cfg, err := config.Parse([]byte(b.String()), fstest.MapFS{}, ".")
	if err != nil {
		return nil, nil, nil, err
	}
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stadion_subscription_pushes_total", Help: "bench"}, []string{"subscription", "outcome"})
	reg.MustRegister(c)
	return cfg, reg, c, nil
}

type discardAlerter struct{}

func (discardAlerter) Fire(ops.Alert) {}
func (discardAlerter) Resolve(string) {}

func (r *opsBenchResult) print(w io.Writer) {
	fmt.Fprintf(w, "ops at %d log lines/s and %d SLOs (in-process; shared 2-core machines are noisy)\n", r.Rate, r.SLOs)
	fmt.Fprintf(w, "  CPU, plain log path (reference)   %6.2f%% of one core\n", 100*r.PlainCPU)
	fmt.Fprintf(w, "  CPU, with tee + miner + SLOs      %6.2f%% of one core\n", 100*r.OpsCPU)
	fmt.Fprintf(w, "  cost of tee + miner + SLOs        %6.2f%% of one core   heap %6.1f MiB\n", 100*r.LogCPU, r.LogHeapMiB)
	h := r.Health
	fmt.Fprintf(w, "  health: %d checks every %s, %d min of history (scored %d, grade %s)\n", h.Checks, h.Interval, h.History, h.ChecksScored, h.ReportGrade)
	fmt.Fprintf(w, "    evaluation: first of a minute %.1f ms CPU, then %.1f ms\n", h.FirstMS, h.NextMS)
	fmt.Fprintf(w, "  cost of health                    %6.2f%% of one core   heap %6.1f MiB\n", 100*h.CPUShare, h.HeapMiB)
	fmt.Fprintf(w, "  cost of ops                       %6.2f%% of one core   (target < 5%%)\n", 100*r.CostCPU)
	fmt.Fprintf(w, "  heap held by ops                  %6.1f MiB            (target < 64 MiB)\n", r.OpsHeapMiB)
	fmt.Fprintf(w, "  log classes                       %6d\n", r.Templates)
	fmt.Fprintf(w, "miner %.0f lines/s, plain tokenizer (strings.Fields) %.0f lines/s: ratio %.2f\n", r.MinerLinesPS, r.TokenizeLinesPS, r.Ratio)
	if len(r.Accuracy) > 0 {
		fmt.Fprintln(w, "Loghub 2k grouping accuracy   stadion   Drain (published)")
		for _, name := range opsSortedNames(r.Accuracy) {
			fmt.Fprintf(w, "  %-12s                 %.3f     %.3f\n", name, r.Accuracy[name], drainPublished[name])
		}
		fmt.Fprintf(w, "  mean                         %.3f     0.865\n", r.MeanAccuracy)
	}
}

func opsSortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
