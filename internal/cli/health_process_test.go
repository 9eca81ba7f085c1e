package cli

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/ops"
)

// healthOf reads GET /v1/health evaluated now.
func healthOf(t *testing.T, p *proc, key string) ops.Report {
	t.Helper()
	var rep ops.Report
	if code := p.request("GET", "/v1/health?fresh=1", key, "", &rep); code != http.StatusOK {
		t.Fatalf("GET /v1/health: %d", code)
	}
	return rep
}

// component finds a component of a site in a report.
func component(rep ops.Report, site, name string) (ops.Component, bool) {
	for _, s := range rep.Sites {
		if s.Name != site {
			continue
		}
		for _, c := range s.Components {
			if c.Name == name {
				return c, true
			}
		}
	}
	return ops.Component{}, false
}

func firing(rep ops.Report, id string) (ops.Alert, bool) {
	for _, a := range rep.Alerts {
		if a.ID == id {
			return a, true
		}
	}
	return ops.Alert{}, false
}

// waitHealth polls the health report until cond holds.
func waitHealth(t *testing.T, p *proc, what string, cond func(ops.Report) bool) ops.Report {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		rep := healthOf(t, p, p.admin)
		if cond(rep) {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last report: score %.0f %s, risks %+v, alerts %+v", what, rep.Score, rep.Grade, rep.Risks, rep.Alerts)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// linkUp reports whether the venue's link_down check says the link is up.
func linkUp(rep ops.Report, venue string) bool {
	c, ok := component(rep, venue, "gate/"+venue)
	if !ok {
		return false
	}
	for _, ch := range c.Checks {
		if ch.Name == "link_down" {
			return ch.Value == 0
		}
	}
	return false
}

// graded reports whether a component is present and graded worse (or,
// with worse false, no worse) than C, with the alert firing accordingly.
func graded(rep ops.Report, site, comp, check string, worse bool) bool {
	c, ok := component(rep, site, comp)
	if !ok {
		return false
	}
	a, on := firing(rep, "health/"+site+"/"+comp)
	if !worse {
		return !ops.Worse(c.Grade, "C") && !on
	}
	return ops.Worse(c.Grade, "C") && on && a.Kind == "health" && a.Site == site && a.Component == comp && a.Check == check
}

// TestHealthScoresLocateFailures breaks four things in a real server (a
// sink's database refuses writes, a webhook receiver fails, a venue edge
// is cut off, a stream is pushed to its byte limit) and checks that each
// lowers the right component's grade and raises a located health alert,
// that the alert reaches the configured receiver (signed, firing, kind
// health, naming the component and its check), and that it resolves, in
// the report and at the receiver, when the thing is fixed (the full
// stream by purging it).
func TestHealthScoresLocateFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cloud and a venue edge; the full suite runs it")
	}
	key, _ := config.WebhookKey(opsTestSecret)
	am := &amSink{t: t, key: key}
	amSrv := httptest.NewServer(am)
	defer amSrv.Close()
	data := t.TempDir()
	c := startGateCloudConfig(t, data, healthConfig(t, amSrv.URL))
	timing, screens := c.createKey("timing"), c.createKey("screens")
	creds := c.credsFile(t, "bird-nest", t.TempDir())
	edge := startEdgeProc(t, t.TempDir(), "bird-nest", "nats://"+c.leaf, creds)

	rep := waitHealth(t, c.proc, "the venue's link to come up", func(r ops.Report) bool {
		return linkUp(r, "bird-nest") && graded(r, "bird-nest", "gate/bird-nest", "", false)
	})
	if g, ok := component(rep, ops.SiteCloud, "sink/laps-db"); !ok || g.Grade != "A" {
		t.Fatalf("healthy sink graded %+v", g)
	}
	publish := func(topic string, n int, pad int) {
		t.Helper()
		var evs []string
		for i := range n {
			evs = append(evs, fmt.Sprintf(`{"athlete":"NOR-%d","n":%d,"ms":1,"pad":%q}`, i, i, strings.Repeat("x", pad)))
		}
		if code := c.request("POST", "/v1/topics/"+topic+"/events", timing, "["+strings.Join(evs, ",")+"]", nil); code != http.StatusAccepted {
			t.Fatalf("publish to %s: %d", topic, code)
		}
	}

	t.Run("sink database refuses writes", func(t *testing.T) {
		publish("laps", 1, 0)
		db := filepath.Join(data, "laps.db")
		waitFor(t, "the sink's first row", func() bool { return countRows(t, db, "") > 0 })
		conn, err := sql.Open("sqlite", "file:"+db+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Exec(`CREATE TRIGGER refuse BEFORE INSERT ON laps BEGIN SELECT RAISE(ABORT, 'disk says no'); END`); err != nil {
			t.Fatal(err)
		}
		publish("laps", 3, 0)
		waitHealth(t, c.proc, "sink/laps-db graded below C with a located alert", func(r ops.Report) bool {
			return graded(r, ops.SiteCloud, "sink/laps-db", "db_errors", true)
		})
		if _, err := conn.Exec(`DROP TRIGGER refuse`); err != nil {
			t.Fatal(err)
		}
		publish("laps", 5, 0)
		waitHealth(t, c.proc, "sink/laps-db to recover and its alert to resolve", func(r ops.Report) bool {
			return graded(r, ops.SiteCloud, "sink/laps-db", "", false)
		})
		am.waitHealthAlert(t, ops.SiteCloud, "sink/laps-db", "db_errors")
	})

	t.Run("webhook receiver fails", func(t *testing.T) {
		var failing atomic.Bool
		failing.Store(true)
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if failing.Load() {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		defer rc.Close()
		body := fmt.Sprintf(`{"topic":"laps","start":"latest","push":{"url":%q,"secret":"whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="},"retry":{"schedule":["1s"],"max_attempts":1000}}`, rc.URL+"/in")
		var problem map[string]any
		if code := c.request("PUT", "/v1/subscriptions/screens-hook", screens, body, &problem); code != http.StatusOK && code != http.StatusCreated {
			t.Fatalf("PUT subscription: %d %v", code, problem)
		}
		publish("laps", 1, 0)
		waitHealth(t, c.proc, "subscription/screens-hook graded below C with a located alert", func(r ops.Report) bool {
			return graded(r, ops.SiteCloud, "subscription/screens-hook", "webhook_failing", true)
		})
		failing.Store(false)
		waitHealth(t, c.proc, "subscription/screens-hook to recover", func(r ops.Report) bool {
			return graded(r, ops.SiteCloud, "subscription/screens-hook", "", false)
		})
		am.waitHealthAlert(t, ops.SiteCloud, "subscription/screens-hook", "webhook_failing")
	})

	t.Run("venue edge cut off", func(t *testing.T) {
		edge.kill9()
		waitHealth(t, c.proc, "gate/bird-nest graded below C with a located alert", func(r ops.Report) bool {
			return graded(r, "bird-nest", "gate/bird-nest", "link_down", true)
		})
		startEdgeProc(t, edge.data, "bird-nest", "nats://"+c.leaf, creds)
		waitHealth(t, c.proc, "gate/bird-nest to recover when the edge is back", func(r ops.Report) bool {
			return linkUp(r, "bird-nest") && graded(r, "bird-nest", "gate/bird-nest", "", false)
		})
		am.waitHealthAlert(t, "bird-nest", "gate/bird-nest", "link_down")
	})

	t.Run("stream near its byte limit", func(t *testing.T) {
		for range 8 {
			publish("tiny", 10, 1000) // about 80 KiB into a 64 KiB stream
		}
		rep := waitHealth(t, c.proc, "stream/TOPIC_tiny graded below C with a located alert", func(r ops.Report) bool {
			return graded(r, ops.SiteCloud, "stream/TOPIC_tiny", "bytes_used", true)
		})
		if len(rep.Risks) == 0 || rep.Risks[0].Impact <= 0 {
			t.Errorf("risks not sorted by impact: %+v", rep.Risks)
		}
		checkHealthDoors(t, c.proc)

		// Fixed: the operator empties the stream; the alert resolves.
		_, js := gateAdminNATS(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := js.Stream(ctx, "TOPIC_tiny")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Purge(ctx); err != nil {
			t.Fatal(err)
		}
		waitHealth(t, c.proc, "stream/TOPIC_tiny to recover once purged", func(r ops.Report) bool {
			return graded(r, ops.SiteCloud, "stream/TOPIC_tiny", "", false)
		})
		am.waitHealthAlert(t, ops.SiteCloud, "stream/TOPIC_tiny", "bytes_used")
	})
}

// healthConfig copies testdata/health into a temporary directory and
// adds an alert receiver at url (signed with opsTestSecret), so that
// health alerts go where an operator's would.
func healthConfig(t *testing.T, url string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/health")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "stadion.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw = fmt.Appendf(raw, "alerts:\n  receivers:\n    oncall:\n      url: %s\n      secret: %s\n      timeout: 5s\n      retry_for: 2m\n", url, opsTestSecret)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitHealthAlert waits until the receiver has had the health alert of a
// component both firing and resolved, located at the component (and,
// when it fired, the check that explains it).
func (s *amSink) waitHealthAlert(t *testing.T, site, comp, check string) {
	t.Helper()
	id := "health/" + site + "/" + comp
	deadline := time.Now().Add(90 * time.Second)
	for s.find(id, "firing") == nil || s.find(id, "resolved") == nil {
		if time.Now().After(deadline) {
			s.mu.Lock()
			n := len(s.got)
			s.mu.Unlock()
			t.Fatalf("the receiver has not had %s firing and resolved (%d notifications)", id, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, status := range []string{"firing", "resolved"} {
		n := s.find(id, status)
		if len(n.Alerts) != 1 {
			t.Fatalf("%s %s: %d alerts in one notification", id, status, len(n.Alerts))
		}
		a := n.Alerts[0]
		if a.Status != status || a.Labels["kind"] != "health" || a.Labels["site"] != site || a.Labels["component"] != comp ||
			status == "firing" && a.Labels["check"] != check || !strings.Contains(a.Annotations["summary"], comp) {
			t.Errorf("%s %s not located at %s/%s %s: %+v", id, status, site, comp, check, a)
		}
	}
}

// checkHealthDoors checks who may read health and inspections, the
// Prometheus gauges, and the CLI against a server whose grade is below B.
func checkHealthDoors(t *testing.T, c *proc) {
	scraper, screens := c.createKey("scraper"), c.createKey("screens")
	if code := c.request("GET", "/v1/health", scraper, "", nil); code != http.StatusOK {
		t.Errorf("a metrics client reading /v1/health: %d", code)
	}
	for _, r := range []struct{ method, path, key string }{
		{"GET", "/v1/health", screens}, {"GET", "/v1/inspections", screens},
		{"POST", "/v1/inspections", scraper}, {"POST", "/v1/inspections", screens},
	} {
		if code := c.request(r.method, r.path, r.key, "", nil); code != http.StatusForbidden {
			t.Errorf("%s %s by a client without the right: %d, want 403", r.method, r.path, code)
		}
	}
	if code := c.request("GET", "/v1/health", "", "", nil); code != http.StatusUnauthorized {
		t.Errorf("/v1/health without a key: %d", code)
	}
	if code := c.request("GET", "/v1/inspections/..%2f..%2fadmin.key", c.admin, "", nil); code != http.StatusBadRequest && code != http.StatusNotFound {
		t.Errorf("a report id that is a path: %d", code)
	}
	req, _ := http.NewRequest("GET", c.http+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+c.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`stadion_health_site_score{site="cloud"}`, `stadion_health_component_score{component="stream/TOPIC_tiny",site="cloud"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics has no %s", want)
		}
	}

	html := filepath.Join(t.TempDir(), "report.html")
	cmd := exec.Command(stadionBinary(t), "inspect", "system", "--server", c.http, "--token", c.admin, "--html", html, "--min-grade", "B")
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("inspect system --min-grade B on a worse grade: exit %d (%v)\n%s", code, err, out)
	}
	if !strings.Contains(string(out), "stream-near-limit") || !strings.Contains(string(out), "worse than --min-grade B") {
		t.Errorf("inspect system output:\n%s", out)
	}
	page, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(page), "stream/TOPIC_tiny") {
		t.Errorf("the HTML report (%v) does not name the full stream", err)
	}
	out, err = exec.Command(stadionBinary(t), "health", "--server", c.http, "--token", scraper).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "stream/TOPIC_tiny") || !strings.Contains(string(out), "bytes_used") {
		t.Errorf("stadion health (%v):\n%s", err, out)
	}
}
