package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

const opsTestSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwZZZZZZZZZZZZ"

// opsTestConfig: one topic with a push subscription's target allowed on
// loopback, an SLO over that subscription's deliveries with burn windows
// of seconds, and one alert receiver.
const opsTestConfig = `
topics:
  laps:
    publishers: [pub]
    subscribers: [sub]
  alerts:
    subscribers: [oncall]
clients:
  pub: {}
  sub: {}
  oncall: {}
webhooks:
  allow: [127.0.0.1]
slo_policy:
  interval: 300ms
  resolution: 1s
  min_events: 5
  burns:
    - {severity: page, long: 8s, short: 3s, factor: 2}
slos:
  hook-delivery:
    description: events reach the hook receiver
    objective: 0.9
    indicator: {builtin: delivery_success, subscription: hook}
alerts:
  topic: alerts
  external_url: http://stadion.test
  receivers:
    oncall:
      url: %s
      secret: ` + opsTestSecret + `
      timeout: 5s
      retry_for: 2m
`

// amSink is an Alertmanager-style webhook receiver on loopback: it checks
// each request's Standard Webhooks signature, decodes the version 4
// payload, and fails its first request (so that the server logs a
// receiver failure and retries).
type amSink struct {
	t     *testing.T
	key   []byte
	mu    sync.Mutex
	calls int
	got   []amNotification
}

type amNotification struct {
	Version     string            `json:"version"`
	Status      string            `json:"status"`
	Receiver    string            `json:"receiver"`
	ExternalURL string            `json:"externalURL"`
	GroupLabels map[string]string `json:"groupLabels"`
	Alerts      []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
		EndsAt      time.Time         `json:"endsAt"`
		Fingerprint string            `json:"fingerprint"`
	} `json:"alerts"`
}

func (s *amSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || r.Header.Get("webhook-signature") != api.WebhookSignature(s.key, id, n, body) {
		s.t.Errorf("alert %s: bad Standard Webhooks signature", id)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls == 1 {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var p amNotification
	if err := json.Unmarshal(body, &p); err != nil {
		s.t.Errorf("alert payload: %v", err)
	}
	s.got = append(s.got, p)
}

// find is the first notification for the alert with status.
func (s *amSink) find(alertID, status string) *amNotification {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.got {
		if p.Status == status && p.GroupLabels["alert_id"] == alertID {
			return &s.got[i]
		}
	}
	return nil
}

// TestSLOBurnAlertReachesReceiverAndResolves runs the real binary: a push
// subscription's receiver fails, the delivery SLO burns, a page alert
// located at the subscription reaches the configured receiver (signed,
// in Alertmanager's shape), /v1/alerts and /v1/slos show it, the
// receiver's own first failure shows up as a new WARN class in
// /v1/anomalies, and when the hook is fixed the alert resolves.
func TestSLOBurnAlertReachesReceiverAndResolves(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	key, _ := config.WebhookKey(opsTestSecret)
	am := &amSink{t: t, key: key}
	amSrv := httptest.NewServer(am)
	defer amSrv.Close()
	var hookOK sync.Mutex
	failing := true
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hookOK.Lock()
		defer hookOK.Unlock()
		if failing {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer hook.Close()

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "stadion.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(opsTestConfig, amSrv.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, filepath.Join(dir, "data"), "--config", cfgPath)
	pub, sub := p.createKey("pub"), p.createKey("sub")
	body := fmt.Sprintf(`{"topic":"laps","push":{"url":%q,"secret":%q},"retry":{"schedule":["1s"],"max_attempts":3}}`, hook.URL, opsTestSecret)
	if code := p.request("PUT", "/v1/subscriptions/hook", sub, body, nil); code != 200 && code != 201 {
		t.Fatalf("create the push subscription: %d\n%s", code, p.stderr)
	}
	const alertID = "slo/hook-delivery/page"
	publishUntil := func(what string, done func() bool) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for i := 0; !done(); i++ {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\n%s", what, p.stderr)
			}
			p.request("POST", "/v1/topics/laps/events", pub, fmt.Sprintf(`{"lap":%d}`, i), nil)
			time.Sleep(50 * time.Millisecond) // pace the traffic, not a wait for readiness
		}
	}
	// The receiver's first answer is a 503: the server logs a WARN it has
	// never logged before, a new class in /v1/anomalies. Traffic goes on
	// failing meanwhile, so the page cannot resolve for lack of events.
	var an struct {
		Classes []struct {
			Component, Level, Template, Example string
			Anomalous                           bool
		} `json:"classes"`
	}
	anomaly := func() bool {
		p.request("GET", "/v1/anomalies", p.admin, "", &an)
		for _, c := range an.Classes {
			if c.Component == "ops" && c.Level == "warn" && c.Anomalous && strings.Contains(c.Template, "alert receiver failed") {
				if strings.Contains(c.Example, "whsec_") {
					t.Errorf("anomaly example leaks the secret: %q", c.Example)
				}
				return true
			}
		}
		return false
	}
	publishUntil("the page alert at the receiver and the receiver's failure in /v1/anomalies", func() bool {
		return am.find(alertID, "firing") != nil && anomaly()
	})
	n := am.find(alertID, "firing")
	a := n.Alerts[0]
	if n.Version != "4" || n.Receiver != "oncall" || n.ExternalURL != "http://stadion.test" || len(n.Alerts) != 1 {
		t.Errorf("notification %+v", n)
	}
	if a.Labels["component"] != "subscription/hook" || a.Labels["check"] != "slo/hook-delivery" || a.Labels["severity"] != "page" ||
		a.Labels["slo"] != "hook-delivery" || !strings.Contains(a.Annotations["summary"], "subscription/hook") || a.Fingerprint == "" {
		t.Errorf("alert not located: %+v", a)
	}

	var alerts struct {
		Alerts []struct {
			ID, Status, Component string
		} `json:"alerts"`
	}
	code := p.request("GET", "/v1/alerts", p.admin, "", &alerts)
	listed := false
	for _, a := range alerts.Alerts {
		listed = listed || a.ID == alertID && a.Status == "firing" && a.Component == "subscription/hook"
	}
	if code != 200 || !listed {
		t.Errorf("GET /v1/alerts: %d %+v", code, alerts)
	}
	if code := p.request("GET", "/v1/alerts", pub, "", nil); code != http.StatusForbidden {
		t.Errorf("a client without the metrics role read /v1/alerts: %d", code)
	}
	var slos struct {
		SLOs []struct {
			Name   string   `json:"name"`
			Firing []string `json:"firing"`
			Budget float64  `json:"budget_remaining"`
		} `json:"slos"`
	}
	if code := p.request("GET", "/v1/slos", p.admin, "", &slos); code != 200 || len(slos.SLOs) != 1 || slos.SLOs[0].Budget >= 1 {
		t.Errorf("GET /v1/slos: %d %+v", code, slos)
	}

	// Fixed: the hook answers 200 again; the page resolves.
	hookOK.Lock()
	failing = false
	hookOK.Unlock()
	publishUntil("the resolved notification", func() bool { return am.find(alertID, "resolved") != nil })
	r := am.find(alertID, "resolved").Alerts[0]
	if r.EndsAt.IsZero() || r.EndsAt.Before(r.StartsAt) || r.Labels["component"] != "subscription/hook" {
		t.Errorf("resolved alert %+v", r)
	}

	// The alerts topic holds both transitions, once each, for its
	// subscriber.
	oncall := p.createKey("oncall")
	var firing, resolved int
	for _, ev := range p.readAll("alerts", oncall) {
		data, _ := ev["data"].(map[string]any)
		if data["id"] != alertID {
			continue
		}
		switch data["status"] {
		case "firing":
			firing++
		case "resolved":
			resolved++
		}
	}
	if firing != 1 || resolved != 1 {
		t.Errorf("alerts topic: %d firing and %d resolved events for %s, want 1 and 1", firing, resolved, alertID)
	}
}
