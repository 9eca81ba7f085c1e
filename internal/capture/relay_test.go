package capture

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The relay's tests use two loopback addresses as two hosts: host A
// (127.0.0.2) is in capture.allow, host B (127.0.0.3) is not. Linux routes
// all of 127/8 to the loopback interface.
const hostA, hostB = "127.0.0.2", "127.0.0.3"

// hostServer serves h on ip and counts the requests it gets.
func hostServer(t *testing.T, ip string, h http.Handler) (base string, hits *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	hits = &atomic.Int32{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), hits
}

// bannerServer is a TCP port that greets every connection with a banner,
// as a NATS server does, and counts the connections.
func bannerServer(t *testing.T, ip, banner string) (addr string, conns *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	conns = &atomic.Int32{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			_, _ = c.Write([]byte(banner))
			_, _ = bufio.NewReader(c).ReadString('\n')
			_ = c.Close()
		}
	}()
	return ln.Addr().String(), conns
}

// encryptedHLS writes an AES-128 HLS stream whose key is keyURI.
func encryptedHLS(t *testing.T, dir, keyURI string) {
	t.Helper()
	key := filepath.Join(dir, "key.bin")
	if err := os.WriteFile(key, []byte("0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	info := filepath.Join(dir, "key.info")
	if err := os.WriteFile(info, []byte(keyURI+"\n"+key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "3",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
		"-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_key_info_file", info,
		filepath.Join(dir, "index.m3u8")).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
}

// playlistWith is dir's index.m3u8 with every segment URI prefixed and
// every key URI replaced.
func playlistWith(t *testing.T, dir, segPrefix, keyURI string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "#EXT-X-KEY") && keyURI != "":
			before, after, _ := strings.Cut(line, `URI="`)
			_, rest, _ := strings.Cut(after, `"`)
			line = before + `URI="` + keyURI + `"` + rest
		case line != "" && !strings.HasPrefix(line, "#"):
			line = segPrefix + line
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// attackSite is host A's content: a legitimate stream, and the playlists
// and redirects an attacker would put there to reach host B.
type attackSite struct {
	a, b       string // base URLs
	bHits      *atomic.Int32
	bannerB    string // host:port of a banner port on B
	bannerA    string // host:port of a banner port on A (allowed host)
	bannerSeen *atomic.Int32
}

func newAttackSite(t *testing.T) *attackSite {
	t.Helper()
	plain, enc := t.TempDir(), t.TempDir()
	testVideo(t, plain, "index.m3u8", 3)
	f, err := os.OpenFile(filepath.Join(plain, "index.m3u8"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("#EXT-X-ENDLIST\n") // a finished stream: the stall check leaves it alone
	f.Close()
	encryptedHLS(t, enc, "key.bin")
	s := &attackSite{}
	bMux := http.NewServeMux()
	bMux.Handle("/plain/", http.StripPrefix("/plain/", http.FileServer(http.Dir(plain))))
	bMux.Handle("/enc/", http.StripPrefix("/enc/", http.FileServer(http.Dir(enc))))
	s.b, s.bHits = hostServer(t, hostB, bMux)
	aMux := http.NewServeMux()
	aMux.Handle("/plain/", http.StripPrefix("/plain/", http.FileServer(http.Dir(plain))))
	aMux.Handle("/enc/", http.StripPrefix("/enc/", http.FileServer(http.Dir(enc))))
	serve := func(body func() string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			fmt.Fprint(w, body())
		}
	}
	redirect := func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.b+"/plain/index.m3u8", http.StatusFound)
	}
	aMux.HandleFunc("/redirect.m3u8", redirect)
	aMux.HandleFunc("/redirect", redirect)
	aMux.Handle("/segments-on-b.m3u8", serve(func() string { return playlistWith(t, plain, s.b+"/plain/", "") }))
	aMux.Handle("/variant-on-b.m3u8", serve(func() string {
		return "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n" + s.b + "/plain/index.m3u8\n"
	}))
	aMux.Handle("/variant-on-b", serve(func() string {
		return "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n" + s.b + "/plain/index.m3u8\n"
	}))
	aMux.HandleFunc("/manifest.mpd", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/dash+xml")
		fmt.Fprintf(w, dashManifest, s.b+"/plain/")
	})
	aMux.Handle("/key-on-b.m3u8", serve(func() string { return playlistWith(t, enc, "enc/", s.b+"/enc/key.bin") }))
	aMux.Handle("/file-segment.m3u8", serve(func() string { return playlistWith(t, plain, "file://"+plain+"/", "") }))
	aMux.HandleFunc("/denied.m3u8", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="BANNER-REALM"`)
		http.Error(w, "BANNER-BODY internal build 4.2", http.StatusUnauthorized)
	})
	s.a, _ = hostServer(t, hostA, aMux)
	s.bannerB, s.bannerSeen = bannerServer(t, hostB, "INFO {\"server_id\":\"BANNER-B\"}\r\n")
	s.bannerA, _ = bannerServer(t, hostA, "INFO {\"server_id\":\"BANNER-A\"}\r\n")
	return s
}

// dashManifest is a DASH manifest whose segments are at %s: ffmpeg's DASH
// demuxer would fetch them itself, so it is not among those a relayed
// source may use.
const dashManifest = `<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT3S" minBufferTime="PT1S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
<BaseURL>%s</BaseURL>
<Period><AdaptationSet mimeType="video/mp2t"><Representation id="v" bandwidth="800000" width="640" height="360">
<SegmentList duration="1"><SegmentURL media="index0.ts"/><SegmentURL media="index1.ts"/></SegmentList>
</Representation></AdaptationSet></Period></MPD>
`

const relayConfig = `
clients:
  cam: {roles: [capture]}
capture:
  enabled: true
  allow: ["127.0.0.2"]
  retries: 0
  timeout: 15s
`

// Jobs added through the API whose sources lead from the allowed host A to
// host B (a redirect, segments, a variant, a key), or to a file, or at a
// port that answers with a banner: every one fails with an error naming
// the refused URL and none of the remote's words, no frame is stored, B
// sees no request, and a legitimate job on A (an encrypted one included)
// keeps capturing beside them.
func TestRelayRefusesWhatAllowDoesNotName(t *testing.T) {
	needFFmpeg(t)
	site := newAttackSite(t)
	w := startWorker(t, startNATS(t), testConfig(t, relayConfig))
	c := serveAPI(t, w.svc, "cam")
	put := func(name, source string) {
		t.Helper()
		body := fmt.Sprintf(`{"source":%q,"every":"1s","sizes":["160x90"],"keyframes_only":true}`, source)
		if resp, raw := c.do("PUT", "/v1/capture/jobs/"+name, body); resp.StatusCode != 201 {
			t.Fatalf("PUT %s: %d %s", name, resp.StatusCode, raw)
		}
	}
	put("legit", site.a+"/plain/index.m3u8")
	put("legit-encrypted", site.a+"/enc/index.m3u8")
	attacks := []struct{ job, source, want string }{
		{"redirect-playlist", site.a + "/redirect.m3u8", site.b + "/plain/index.m3u8 is not in capture.allow"},
		{"redirect", site.a + "/redirect", site.b + "/plain/index.m3u8 is not in capture.allow"},
		{"segments", site.a + "/segments-on-b.m3u8", site.b + "/plain/index0.ts is not in capture.allow"},
		{"variant", site.a + "/variant-on-b.m3u8", site.b + "/plain/index.m3u8 is not in capture.allow"},
		{"variant-relayed", site.a + "/variant-on-b", site.b + "/plain/index.m3u8 is not in capture.allow"},
		{"dash", site.a + "/manifest.mpd", "ffmpeg failed"},
		{"key", site.a + "/key-on-b.m3u8", site.b + "/enc/key.bin is not in capture.allow"},
		{"file-segment", site.a + "/file-segment.m3u8", "is not in capture.allow (only http and https URLs are read)"},
		{"banner-allowed-host", "http://" + site.bannerA + "/live.m3u8", "http://" + site.bannerA + "/live.m3u8 did not answer (network error)"},
		{"denied", site.a + "/denied.m3u8", site.a + "/denied.m3u8 answered HTTP 401"},
	}
	for _, a := range attacks {
		put(a.job, a.source)
	}
	// A host outside the list is refused when the job is added, before
	// anything is dialled.
	resp, raw := c.do("PUT", "/v1/capture/jobs/scan", fmt.Sprintf(`{"source":"http://%s/x.m3u8"}`, site.bannerB))
	if resp.StatusCode != 400 || !strings.Contains(string(raw), "not in capture.allow") || strings.Contains(string(raw), "BANNER") {
		t.Errorf("PUT of a job on host B: %d %s", resp.StatusCode, raw)
	}
	eventually(t, 60*time.Second, "an error on every attack and frames of the legitimate jobs", func() bool {
		for _, a := range attacks {
			if c.job(a.job).LastError == "" {
				return false
			}
		}
		return c.job("legit").Captures >= 2 && c.job("legit-encrypted").Captures >= 2
	})
	for _, a := range attacks {
		v := c.job(a.job)
		if !strings.Contains(v.LastError, a.want) {
			t.Errorf("%s: error %q, want it to say %q", a.job, v.LastError, a.want)
		}
		for _, leak := range []string{"BANNER", "INFO", "realm", "build 4.2", "127.0.0.1:"} {
			if strings.Contains(v.LastError, leak) {
				t.Errorf("%s: error %q shows %q", a.job, v.LastError, leak)
			}
		}
		if v.Captures != 0 || len(c.frames(a.job)) != 0 {
			t.Errorf("%s: %d captures stored", a.job, v.Captures)
		}
	}
	if n := site.bHits.Load(); n != 0 {
		t.Errorf("host B got %d requests", n)
	}
	if n := testutil.ToFloat64(w.svc.m.fetches.WithLabelValues("refused")); n < float64(len(attacks)-3) {
		t.Errorf("stadion_capture_fetches_total{result=\"refused\"} = %v", n)
	}
	if n := testutil.ToFloat64(w.svc.m.relaySessions); n > float64(w.svc.cc.Concurrency) {
		t.Errorf("%v relay sessions open, more than capture.concurrency", n)
	}
	if n := site.bannerSeen.Load(); n != 0 {
		t.Errorf("host B's banner port got %d connections", n)
	}
	for _, j := range []string{"legit", "legit-encrypted"} {
		if v := c.job(j); v.LastError != "" {
			t.Errorf("%s: error %q", j, v.LastError)
		}
	}
}

// The relay serves only the URLs a running capture handed out, under that
// capture's token: another local process cannot use it as a proxy.
func TestRelayIsNoOpenProxy(t *testing.T) {
	src, hits := hostServer(t, hostA, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "segment") }))
	m := newMetrics(prometheus.NewRegistry())
	r, err := startRelay(m)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	s := r.open(newFetcher(newReach([]string{hostA}, false)))
	u, _ := url.Parse(src + "/seg.ts")
	link, err := s.link(u)
	if err != nil {
		t.Fatal(err)
	}
	get := func(method, url string) int {
		req, _ := http.NewRequest(method, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("GET", link); code != 200 {
		t.Fatalf("the capture's own URL: %d", code)
	}
	base := "http://" + r.ln.Addr().String()
	for _, c := range []struct{ method, url string }{
		{"GET", base + "/" + strings.Repeat("0", 32) + "/0.ts"}, // a guessed token
		{"GET", strings.Replace(link, "/0.ts", "/1.ts", 1)},     // a URL not handed out
		{"GET", base + "/http://" + hostA + "/seg.ts"},          // proxy-style
		{"POST", link},
	} {
		if code := get(c.method, c.url); code != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404", c.method, c.url, code)
		}
	}
	s.end()
	if code := get("GET", link); code != http.StatusNotFound {
		t.Errorf("after the capture: %d, want 404", code)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the source got %d requests, want 1", n)
	}
}
