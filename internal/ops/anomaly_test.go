package ops

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
)

func anomalyConfig() config.Anomalies {
	return config.Anomalies{LinesPerMinute: 1000, MaxTemplates: 100, MaxTokens: 64, Similarity: 0.5, RateFactor: 5, QuietAfter: config.Duration(time.Minute)}
}

// drainFeed mines every line waiting in the feed.
func drainFeed(a *Anomalies, f *LogFeed) {
	for {
		select {
		case l := <-f.ch:
			a.Add(l)
		default:
			return
		}
	}
}

// TestLogTeeFeedsNewWarnClasses: logs through the tee reach the miner;
// a new class at WARN raises one located anomaly, INFO classes do not,
// and the example keeps no secret.
func TestLogTeeFeedsNewWarnClasses(t *testing.T) {
	feed := NewLogFeed()
	feed.attached.Store(true)
	log := slog.New(NewLogTee(slog.NewTextHandler(io.Discard, nil), feed))
	rec := &alertRecorder{}
	a := NewAnomalies(anomalyConfig(), "cloud", rec, nil)
	sinkLog := log.With("service", "delivery")
	for i := range 5 {
		sinkLog.Info("batch written", "sink", "results-db", "rows", i*7)
	}
	for i := range 3 {
		sinkLog.Warn("database write failed; retrying", "sink", "results-db", "attempt", i, "dsn_password", "hunter2", "token", "sk_live_0123456789abcdef")
	}
	drainFeed(a, feed)
	classes := a.Classes()
	if len(classes) != 2 {
		t.Fatalf("%d classes: %+v", len(classes), classes)
	}
	warn := classes[0]
	if !warn.Anomalous || warn.Component != "delivery" || warn.Level != "warn" || warn.Count != 3 {
		t.Errorf("warn class %+v", warn)
	}
	if strings.Contains(warn.Example, "hunter2") || strings.Contains(warn.Example, "sk_live") {
		t.Errorf("example leaks a secret: %q", warn.Example)
	}
	if classes[1].Anomalous || classes[1].Count != 5 {
		t.Errorf("info class %+v", classes[1])
	}
	on := rec.firing()
	if len(on) != 1 {
		t.Fatalf("firing %v", on)
	}
	for id := range on {
		al := rec.last[id]
		if al.Kind != "anomaly" || al.Component != "delivery" || al.Check != "logs/new-class" {
			t.Errorf("anomaly not located: %+v", al)
		}
	}
}

// TestAnomalyRateJumpAndBudget: a class steady at 2 a minute for an hour
// that jumps to 40 raises a rate anomaly; lines past the budget are not
// mined.
func TestAnomalyRateJumpAndBudget(t *testing.T) {
	rec := &alertRecorder{}
	cfg := anomalyConfig()
	a := NewAnomalies(cfg, "cloud", rec, nil)
	start := time.Unix(1_800_000_000, 0).Truncate(time.Minute)
	for m := range 60 {
		for range 2 {
			a.Add(LogLine{Time: start.Add(time.Duration(m) * time.Minute), Level: slog.LevelInfo, Component: "exchange", Text: "publish accepted topic=results seq=" + time.Duration(m).String()})
		}
	}
	jump := start.Add(60 * time.Minute)
	for range 40 {
		a.Add(LogLine{Time: jump, Level: slog.LevelInfo, Component: "exchange", Text: "publish accepted topic=results seq=9"})
	}
	a.now = func() time.Time { return jump.Add(time.Minute + time.Second) }
	a.Sweep()
	if on := rec.firing(); len(on) != 1 {
		t.Fatalf("firing %v, want one rate anomaly", on)
	}
	// The next quiet minute resolves it.
	a.now = func() time.Time { return jump.Add(2*time.Minute + time.Second) }
	a.Sweep()
	if on := rec.firing(); len(on) != 0 {
		t.Errorf("still firing %v", on)
	}
	// Budget: 1000 lines a minute; the rest are counted, not mined.
	over := start.Add(3 * time.Hour)
	for range cfg.LinesPerMinute + 50 {
		a.Add(LogLine{Time: over, Level: slog.LevelInfo, Component: "live", Text: "viewer joined"})
	}
	for _, c := range a.Classes() {
		if c.Component == "live" && c.Count != int64(cfg.LinesPerMinute) {
			t.Errorf("mined %d lines, want the budget %d", c.Count, cfg.LinesPerMinute)
		}
	}
}

func TestAdvisoryLine(t *testing.T) {
	l := advisoryLine("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.TOPIC_results.sink-db", time.Now())
	if l.Level != slog.LevelWarn || l.Component != "engine" || l.Text != "engine advisory CONSUMER MAX_DELIVERIES TOPIC_results sink-db" {
		t.Errorf("%+v", l)
	}
}

// TestAnomalyClassIDSameOnEveryReplica: two replicas that first see the
// same message with different attributes name the class alike, so its
// anomaly is one alert across replicas.
func TestAnomalyClassIDSameOnEveryReplica(t *testing.T) {
	ids := map[string]bool{}
	for i, text := range []string{
		"sink write failed sink=arrivals-db error=no such table: arrivals",
		"sink write failed sink=rides-db error=database is locked",
	} {
		rec := &alertRecorder{}
		a := NewAnomalies(anomalyConfig(), "cloud", rec, nil)
		a.Add(LogLine{Time: time.Unix(int64(1_800_000_000+i), 0), Level: slog.LevelWarn, Component: "delivery", Text: text, Message: "sink write failed"})
		for id := range rec.firing() {
			ids[id] = true
		}
	}
	if len(ids) != 1 {
		t.Errorf("anomaly ids %v, want one", ids)
	}
}
