package console

import (
	"bufio"
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
)

// rig is a console behind the real key check, with its own registry.
type rig struct {
	c         *Console
	srv       *httptest.Server
	published *prometheus.CounterVec
	sinkLag   *prometheus.GaugeVec
	admin     string
	screens   string // reads topic laps only
}

const testConfig = `
topics:
  laps: {kind: realtime, key: /id, publishers: [timing], subscribers: [screens]}
  secrets: {kind: realtime, key: /id, publishers: [timing], subscribers: [core]}
clients: {timing: {}, screens: {}, core: {}}
live: {rooms: [final, curling]}
`

func newRig(t *testing.T, perClient int) *rig {
	t.Helper()
	cfg, err := config.Parse([]byte(testConfig), fstest.MapFS{}, ".")
	if err != nil {
		t.Fatal(err)
	}
	eng := enginetest.Start(t, enginetest.Sync(false))
	ctx := context.Background()
	keys, err := api.OpenKeys(ctx, eng.JS, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{}
	if r.admin, _, err = keys.Create(ctx, api.AdminClient); err != nil {
		t.Fatal(err)
	}
	if r.screens, _, err = keys.Create(ctx, "screens"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r.published = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stadion_exchange_events_published_total", Help: "x"}, []string{"topic"})
	r.sinkLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stadion_sink_lag", Help: "x"}, []string{"sink"})
	reg.MustRegister(r.published, r.sinkLag)
	r.c = New(Options{
		Config: cfg, Gatherer: reg, Reg: reg, Logger: slog.New(slog.DiscardHandler),
		Streams: api.NewStreams(perClient, 5*time.Second, reg, "console"),
	})
	mux := api.NewMux()
	r.c.Routes(mux, func(h http.Handler) http.Handler { return api.Authenticate(keys, h) })
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *rig) get(t *testing.T, path, key string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", r.srv.URL+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestEveryAssetIsEmbedded checks that what the page loads is in the
// binary and that the page needs nothing the CSP forbids.
func TestEveryAssetIsEmbedded(t *testing.T) {
	index := string(assets["index.html"].body)
	if index == "" {
		t.Fatal("index.html is not embedded")
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(index, -1)
	for _, js := range []string{"app.js", "views.js", "chart.js"} {
		refs = append(refs, regexp.MustCompile(`from '\./([^']+)'`).FindAllStringSubmatch(string(assets[js].body), -1)...)
	}
	for _, m := range refs {
		ref := m[1]
		if strings.HasPrefix(ref, "#") {
			continue
		}
		if strings.Contains(ref, "://") || strings.HasPrefix(ref, "//") {
			t.Errorf("the page loads %s from elsewhere (no CDN: embed it)", ref)
			continue
		}
		if _, ok := assets[strings.TrimPrefix(ref, "/console/")]; !ok {
			t.Errorf("the page loads %s, which is not embedded", ref)
		}
	}
	if len(refs) < 6 {
		t.Errorf("found %d references in the page; did its markup change?", len(refs))
	}
	var files []string
	fs.WalkDir(web, "web", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, strings.TrimPrefix(p, "web/"))
		}
		return err
	})
	names := AssetNames()
	slices.Sort(files)
	slices.Sort(names)
	if !slices.Equal(files, names) {
		t.Errorf("served %v, embedded %v", names, files)
	}
	if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).MatchString(index) || strings.Contains(index, " style=") || regexp.MustCompile(` on[a-z]+=`).MatchString(index) {
		t.Error("index.html has inline script, style or event handlers, which the CSP blocks")
	}
}

// TestPageHeaders checks the CSP and the other headers on the page and its
// assets, that unknown files are 404 problems, and that the page's API
// needs a key.
func TestPageHeaders(t *testing.T) {
	r := newRig(t, 4)
	for _, path := range []string{"/", "/console/app.js", "/console/app.css", "/console/icon.svg"} {
		resp := r.get(t, path, "")
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
		if got := h.Get("Content-Security-Policy"); got != CSP {
			t.Errorf("%s: CSP %q", path, got)
		}
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if h.Get(k) != want {
				t.Errorf("%s: %s = %q, want %q", path, k, h.Get(k), want)
			}
		}
	}
	for _, d := range []string{"default-src 'self'", "frame-ancestors 'none'", "script-src 'self';"} {
		if !strings.Contains(CSP, d) {
			t.Errorf("CSP lacks %q", d)
		}
	}
	if strings.Contains(CSP, "unsafe") {
		t.Errorf("CSP allows unsafe sources: %s", CSP)
	}
	if resp := r.get(t, "/console/nope.js", ""); resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		t.Errorf("unknown asset: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, path := range []string{"/v1/console", "/v1/console/series", "/v1/console/feed"} {
		if resp := r.get(t, path, ""); resp.StatusCode != 401 {
			t.Errorf("%s without a key: %d", path, resp.StatusCode)
		}
	}
	resp := r.get(t, "/v1/console", r.screens)
	var who Whoami
	json.NewDecoder(resp.Body).Decode(&who)
	if who.Client != "screens" || who.Admin || !slices.Equal(who.Rooms, []string{"final", "curling"}) ||
		!who.Configured["live"] || who.Configured["venues"] || who.Configured["capture"] {
		t.Errorf("whoami: %+v", who)
	}
}

// TestSeriesShowOnlyWhatTheKeyMaySee samples counters and gauges, checks
// the rates, and that a client sees only the topics it reads.
func TestSeriesShowOnlyWhatTheKeyMaySee(t *testing.T) {
	r := newRig(t, 4)
	start := time.Now()
	r.published.WithLabelValues("laps").Add(10)
	r.sinkLag.WithLabelValues("laps-db").Set(7)
	r.c.sample(start, 0)
	r.published.WithLabelValues("laps").Add(50)
	r.published.WithLabelValues("secrets").Add(20) // new since the first sample: counted from 0
	r.c.sample(start.Add(5*time.Second), 5*time.Second)

	page := func(key string) map[string][]*float64 {
		resp := r.get(t, "/v1/console/series", key)
		defer resp.Body.Close()
		var p SeriesPage
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || len(p.Times) < 2 || p.Step != DefaultInterval.Seconds() {
			t.Fatalf("series page: %v %+v", err, p)
		}
		out := map[string][]*float64{}
		for _, s := range p.Series {
			out[s.ID] = s.Values
		}
		return out
	}
	all := page(r.admin)
	if v := all["topic/laps/rate"]; v[0] != nil || v[1] == nil || *v[1] != 10 {
		t.Errorf("laps rate: %v", v)
	}
	if v := all["topic/secrets/rate"]; v[1] == nil || *v[1] != 4 {
		t.Errorf("secrets rate: %v", v)
	}
	if v := all["sink/laps-db/lag"]; v[0] == nil || *v[0] != 7 {
		t.Errorf("sink lag: %v", v)
	}
	r.sinkLag.WithLabelValues("laps-db").Set(math.Inf(1)) // no JSON for it: a gap, not a broken page
	r.c.sample(start.Add(10*time.Second), 5*time.Second)
	if v := page(r.admin)["sink/laps-db/lag"]; len(v) != 3 || v[2] != nil {
		t.Errorf("an infinite gauge: %v", v)
	}
	mine := page(r.screens)
	if len(mine) != 1 || mine["topic/laps/rate"] == nil {
		t.Errorf("client screens sees %v, want only topic/laps/rate", mine)
	}
}

// TestSeriesAreBounded checks that the store keeps at most its cap of
// series and an hour of samples.
func TestSeriesAreBounded(t *testing.T) {
	dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "d", Help: "d"})
	st := newStore(3, 2, dropped)
	src := sources[0]
	now := time.Now()
	for i := range 5 {
		st.add(now.Add(time.Duration(i)*time.Second), time.Second, []reading{
			{src: src, name: "a", id: "topic/a/rate", value: float64(i)},
			{src: src, name: "b", id: "topic/b/rate", value: float64(i)},
			{src: src, name: "c", id: "topic/c/rate", value: float64(i)},
		})
	}
	p := st.page(time.Second, func(*series) bool { return true })
	if len(p.Series) != 2 || len(p.Times) != 3 || len(p.Series[0].Values) != 3 {
		t.Errorf("kept %d series of %d samples", len(p.Series), len(p.Times))
	}
	if p.Times[0] != now.Add(2*time.Second).Unix() {
		t.Errorf("oldest sample %d, want the third", p.Times[0])
	}
}

// TestFeedStreamsAndCountsAgainstTheCap reads the streamed feed: one line
// per sample with only the caller's series, a second feed of the same
// client beyond its cap is a 429, and Drain ends the feed.
func TestFeedStreamsAndCountsAgainstTheCap(t *testing.T) {
	r := newRig(t, 1)
	resp := r.get(t, "/v1/console/feed", r.screens)
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("feed: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() || !strings.Contains(lines.Text(), `"step":5`) {
		t.Fatalf("first line: %q", lines.Text())
	}
	if second := r.get(t, "/v1/console/feed", r.screens); second.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a second feed beyond streams_per_client: %d", second.StatusCode)
	} else {
		second.Body.Close()
	}
	r.published.WithLabelValues("laps").Add(1)
	r.published.WithLabelValues("secrets").Add(1)
	now := time.Now()
	r.c.sample(now, 0)
	if !lines.Scan() {
		t.Fatalf("no sample line: %v", lines.Err())
	}
	var line struct {
		T      int64               `json:"t"`
		Values map[string]*float64 `json:"values"`
	}
	if err := json.Unmarshal(lines.Bytes(), &line); err != nil || line.T != now.Unix() {
		t.Fatalf("line %s: %v", lines.Text(), err)
	}
	if _, ok := line.Values["topic/laps/rate"]; !ok || len(line.Values) != 1 {
		t.Errorf("client screens was sent %v, want only topic/laps/rate", line.Values)
	}
	r.c.Drain()
	if lines.Scan() {
		t.Errorf("after Drain the feed sent %q", lines.Text())
	}
	if again := r.get(t, "/v1/console/feed", r.admin); again.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a feed while draining: %d", again.StatusCode)
	}
}
