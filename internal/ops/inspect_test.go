package ops

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/config"
)

const inspectConfig = `
topics:
  laps: {publishers: [timing], subscribers: [screens]}
  lonely: {publishers: [timing]}
clients:
  timing: {}
  screens: {}
sinks:
  laps-db:
    topic: laps
    table: laps
    key: [athlete]
    columns: {athlete: /athlete}
health:
  inspection: {every: 0s, keep: 2}
`

// inspectRig is an engine, a health service with one switchable check,
// and an inspector on a clock the test moves.
type inspectRig struct {
	in     *Inspector
	js     jetstream.JetStream
	broken *atomic.Bool
	clock  time.Time
}

func newInspectRig(t *testing.T) *inspectRig {
	t.Helper()
	eng := startEngine(t)
	cfg, err := config.Parse([]byte(inspectConfig), os.DirFS(t.TempDir()), ".")
	if err != nil {
		t.Fatal(err)
	}
	r := &inspectRig{js: eng.JS, broken: &atomic.Bool{}, clock: time.Now().Add(time.Hour)}
	src := SourceFunc(func(context.Context) []Check {
		return []Check{
			State(SiteCloud, "sink/laps-db", "db_errors", r.broken.Load(), "database main: <disk> full"),
			{Site: SiteCloud, Component: "engine", Name: "disk_used", Unit: "ratio", Value: 0.2, Warn: 0.7, Crit: 0.9},
		}
	})
	h := NewHealth(HealthOptions{Config: cfg.Health, JS: eng.JS, Sources: []Source{src}, Logger: quiet()})
	ctx := context.Background()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Stop(context.Background()) })
	r.in = NewInspector(InspectorOptions{Config: cfg, JS: eng.JS, Health: h, Logger: quiet()})
	r.in.now = func() time.Time { return r.clock }
	if err := r.in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.in.Stop(context.Background()) })
	return r
}

func (r *inspectRig) run(t *testing.T) Inspection {
	t.Helper()
	r.clock = r.clock.Add(24 * time.Hour)
	rep, err := r.in.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func findingKeys(rep Inspection) map[string]Finding {
	m := map[string]Finding{}
	for _, f := range rep.Findings {
		m[f.Key()] = f
	}
	return m
}

// TestInspection runs the inspection three days running: configuration
// smells, a failing sink, old dead letters, what changed since the day
// before, and only the last two reports kept.
func TestInspection(t *testing.T) {
	r := newInspectRig(t)
	ctx := context.Background()
	if _, err := r.js.CreateStream(ctx, jetstream.StreamConfig{Name: "DLQ_sink_laps-db", Subjects: []string{"dlq.sink.laps-db"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.js.Publish(ctx, "dlq.sink.laps-db", []byte("{}")); err != nil {
		t.Fatal(err)
	}

	day1 := r.run(t)
	f := findingKeys(day1)
	for _, want := range []string{"topic-unread topic/lonely", "sink-no-max-rate sink/laps-db", "dead-letters-old DLQ_sink_laps-db"} {
		if _, ok := f[want]; !ok {
			t.Errorf("day 1 misses %q: %+v", want, day1.Findings)
		}
	}
	if _, ok := f["topic-unread topic/laps"]; ok {
		t.Error("a topic with subscribers reported unread")
	}
	if day1.Grade != "A" || day1.Changes.Previous != "" || day1.SLOs {
		t.Errorf("day 1: grade %s, previous %q, slos %v", day1.Grade, day1.Changes.Previous, day1.SLOs)
	}
	if len(day1.Trends) == 0 || day1.Trends[0].Label != "engine disk_used" {
		t.Errorf("no engine water level trend: %+v", day1.Trends)
	}

	r.broken.Store(true)
	day2 := r.run(t)
	if day2.Changes.Previous != day1.ID || day2.Changes.ScoreDelta >= 0 {
		t.Errorf("day 2 changes %+v", day2.Changes)
	}
	if len(day2.Changes.New) != 1 || day2.Changes.New[0] != "sink-db-errors sink/laps-db" {
		t.Errorf("day 2 new findings %v", day2.Changes.New)
	}
	if len(day2.Risks) == 0 || day2.Risks[0].Component != "sink/laps-db" {
		t.Errorf("day 2 risks %+v", day2.Risks)
	}

	r.broken.Store(false)
	day3 := r.run(t)
	if len(day3.Changes.Resolved) != 1 || day3.Changes.Resolved[0] != "sink-db-errors sink/laps-db" {
		t.Errorf("day 3 resolved %v", day3.Changes.Resolved)
	}
	ids, err := r.in.IDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != day2.ID || ids[1] != day3.ID {
		t.Errorf("kept %v, want the last two %s %s", ids, day2.ID, day3.ID)
	}
	if _, err := r.in.Get(ctx, day1.ID, "html"); err == nil {
		t.Error("day 1's HTML outlived keep")
	}

	t.Run("the HTML page in a browser", func(t *testing.T) {
		page, err := r.in.Get(ctx, day2.ID, "html")
		if err != nil {
			t.Fatal(err)
		}
		dom := browse(t, page)
		for _, want := range []string{`id="grade"`, ">" + day2.Grade + "<", "sink/laps-db", "db_errors", "database main: &lt;disk&gt; full", "<polyline", "new: sink-db-errors sink/laps-db"} {
			if !strings.Contains(dom, want) {
				t.Errorf("the page does not show %q:\n%s", want, dom)
			}
		}
		if strings.Contains(dom, "<disk>") {
			t.Error("a detail reached the page unescaped")
		}
	})
}

// browse opens an HTML page in headless Chromium and returns its DOM.
func browse(t *testing.T, page []byte) string {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("STADION_CI") != "" {
			t.Fatal("chromium is missing: .ci/run installs the Debian package chromium")
		}
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, page, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+path).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return string(out)
}

// TestScheduledInspectionRunsOnceAcrossReplicas has two replicas' inspectors
// race for the same scheduled slots: each slot runs exactly once.
func TestScheduledInspectionRunsOnceAcrossReplicas(t *testing.T) {
	r := newInspectRig(t)
	other := NewInspector(InspectorOptions{Config: r.in.cfg, JS: r.js, Health: r.in.health, Logger: quiet()})
	other.now = r.in.now
	ctx := context.Background()
	if err := other.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer other.Stop(ctx)
	slot := time.Now().Truncate(time.Hour)
	for i := range 2 {
		r.clock = r.clock.Add(24 * time.Hour) // distinct report ids per slot
		s := slot.Add(time.Duration(i) * time.Hour)
		results := make(chan bool, 2)
		for _, in := range []*Inspector{r.in, other} {
			go func() {
				ran, err := in.runSlot(ctx, s)
				if err != nil {
					t.Error(err)
				}
				results <- ran
			}()
		}
		if a, b := <-results, <-results; a == b {
			t.Fatalf("slot %d: ran on both or neither (%v, %v)", i, a, b)
		}
	}
	if ids, err := r.in.IDs(ctx); err != nil || len(ids) != 2 {
		t.Errorf("reports %v (%v), want one per slot", ids, err)
	}
}
