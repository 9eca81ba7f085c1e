package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The capture attacks: a client with the capture role, and capture.allow
// naming host A (127.0.0.2), adds jobs whose sources lead to host B
// (127.0.0.3) or probe ports for banners. Each job must fail with an error
// that names the refused URL and nothing a remote said, store no frame,
// and send nothing to B, while a legitimate job on A keeps capturing.

const captureHostA, captureHostB = "127.0.0.2", "127.0.0.3"

// captureRig is a running `stadion up` with the capture client's key, the
// two hosts, and a legitimate job on A already capturing.
type captureRig struct {
	t      *testing.T
	p      *proc
	key    string
	a, b   string        // base URLs of the hosts' web servers
	bHits  *atomic.Int32 // requests B's web server got
	plain  string        // a plain HLS stream's directory
	enc    string        // an AES-128 HLS stream's directory (key.bin beside it)
	routes *http.ServeMux
}

func newCaptureRig(t *testing.T) *captureRig {
	t.Helper()
	needTool(t, "ffmpeg", "ffmpeg")
	r := &captureRig{t: t, plain: t.TempDir(), enc: t.TempDir(), routes: http.NewServeMux()}
	captureHLS(t, r.plain, "")
	captureHLS(t, r.enc, "key.bin")
	files := http.NewServeMux()
	files.Handle("/plain/", http.StripPrefix("/plain/", http.FileServer(http.Dir(r.plain))))
	files.Handle("/enc/", http.StripPrefix("/enc/", http.FileServer(http.Dir(r.enc))))
	r.b, r.bHits = captureHost(t, captureHostB, files)
	r.routes.Handle("/", files)
	r.a, _ = captureHost(t, captureHostA, r.routes)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "stadion.yaml")
	yaml := "clients:\n  cam: {roles: [capture]}\ncapture:\n  enabled: true\n  allow: [\"" + captureHostA + "\"]\n  retries: 0\n  timeout: 15s\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	r.p = startProc(t, filepath.Join(dir, "data"), "--config", cfg)
	r.key = r.p.createKey("cam")
	r.put("legit", r.a+"/plain/index.m3u8", true)
	r.waitCaptures("legit", 1)
	return r
}

// captureHost serves h on ip, counting requests.
func captureHost(t *testing.T, ip string, h http.Handler) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	hits := &atomic.Int32{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		hits.Add(1)
		h.ServeHTTP(w, req)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), hits
}

// captureBanner is a port that greets every connection with banner, as a
// NATS server does; it counts connections.
func captureBanner(t *testing.T, ip, banner string) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	conns := &atomic.Int32{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			_, _ = c.Write([]byte(banner))
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = bufio.NewReader(c).ReadString('\n')
			_ = c.Close()
		}
	}()
	return ln.Addr().String(), conns
}

// captureHLS writes a 3 s HLS stream into dir, AES-128 encrypted with the
// key URI keyURI when it is not empty.
func captureHLS(t *testing.T, dir, keyURI string) {
	t.Helper()
	args := []string{"-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "3",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0"}
	if keyURI != "" {
		key, info := filepath.Join(dir, "key.bin"), filepath.Join(dir, "key.info")
		if err := os.WriteFile(key, []byte("0123456789abcdef"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(info, []byte(keyURI+"\n"+key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-hls_key_info_file", info)
	}
	if out, err := exec.Command("ffmpeg", append(args, filepath.Join(dir, "index.m3u8"))...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
}

// playlist serves a playlist made from dir's index.m3u8 at path on A:
// segment lines prefixed with segPrefix, key URIs replaced by keyURI.
func (r *captureRig) playlist(path, dir, segPrefix, keyURI string) {
	raw, err := os.ReadFile(filepath.Join(dir, "index.m3u8"))
	if err != nil {
		r.t.Fatal(err)
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
	r.serve(path, b.String())
}

func (r *captureRig) serve(path, body string) {
	r.routes.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		fmt.Fprint(w, body)
	})
}

// put adds a job as the capture client; every captures each second,
// otherwise the job waits for a trigger.
func (r *captureRig) put(job, source string, every bool) {
	r.t.Helper()
	spec := map[string]any{"source": source, "sizes": []string{"160x90"}, "keyframes_only": true}
	if every {
		spec["every"] = "1s"
	}
	body, _ := json.Marshal(spec)
	var problem map[string]any
	if code := r.p.request("PUT", "/v1/capture/jobs/"+job, r.key, string(body), &problem); code != http.StatusCreated {
		r.t.Fatalf("PUT job %s: %d %v", job, code, problem)
	}
}

type captureJobView struct {
	Captures  int    `json:"captures"`
	Failures  int    `json:"failures"`
	LastError string `json:"last_error"`
}

func (r *captureRig) job(name string) captureJobView {
	r.t.Helper()
	var v captureJobView
	if code := r.p.request("GET", "/v1/capture/jobs/"+name, r.key, "", &v); code != 200 {
		r.t.Fatalf("GET job %s: %d", name, code)
	}
	return v
}

func (r *captureRig) waitCaptures(job string, n int) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for r.job(job).Captures < n {
		if time.Now().After(deadline) {
			r.t.Fatalf("job %s: fewer than %d captures in 30s: %+v\n%s", job, n, r.job(job), r.p.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// attack adds a job on source, triggers it and returns its error, having
// checked that it stored no frame and that the legitimate job on A kept
// capturing meanwhile.
func (r *captureRig) attack(job, source string) string {
	r.t.Helper()
	before := r.job("legit").Captures
	r.put(job, source, false)
	if code := r.p.request("POST", "/v1/capture/jobs/"+job+"/trigger", r.key, "", nil); code != http.StatusAccepted {
		r.t.Fatalf("trigger %s: %d", job, code)
	}
	deadline := time.Now().Add(30 * time.Second)
	var v captureJobView
	for v = r.job(job); v.LastError == "" && v.Captures == 0; v = r.job(job) {
		if time.Now().After(deadline) {
			r.t.Fatalf("job %s: no outcome in 30s\n%s", job, r.p.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var frames struct {
		Frames []json.RawMessage `json:"frames"`
	}
	r.p.request("GET", "/v1/capture/jobs/"+job+"/frames", r.key, "", &frames)
	if v.Captures != 0 || len(frames.Frames) != 0 {
		r.t.Errorf("job %s stored %d frames (captures %d)", job, len(frames.Frames), v.Captures)
	}
	r.waitCaptures("legit", before+2)
	if l := r.job("legit"); l.LastError != "" {
		r.t.Errorf("the legitimate job failed: %q", l.LastError)
	}
	return v.LastError
}

// refused checks an attack's error: it names the refused URL and shows
// none of the given words (banners, bodies, the relay's address).
func (r *captureRig) refused(errText, url string, leaks ...string) {
	r.t.Helper()
	if want := "capture: " + url + " is not in capture.allow"; !strings.Contains(errText, want) {
		r.t.Errorf("error %q, want it to say %q", errText, want)
	}
	for _, leak := range append(leaks, "127.0.0.1:") {
		if strings.Contains(errText, leak) {
			r.t.Errorf("error %q shows %q", errText, leak)
		}
	}
	if n := r.bHits.Load(); n != 0 {
		r.t.Errorf("host B got %d requests", n)
	}
}

func TestAttackCaptureRedirectToOtherHost(t *testing.T) {
	r := newCaptureRig(t)
	target := r.b + "/plain/index.m3u8"
	redirect := func(w http.ResponseWriter, req *http.Request) { http.Redirect(w, req, target, http.StatusFound) }
	r.routes.HandleFunc("/go.m3u8", redirect) // read first by the stall check
	r.routes.HandleFunc("/go", redirect)      // read by ffmpeg through the relay
	r.refused(r.attack("redirect-playlist", r.a+"/go.m3u8"), target)
	r.refused(r.attack("redirect", r.a+"/go"), target)
}

func TestAttackCaptureSegmentsOnOtherHost(t *testing.T) {
	r := newCaptureRig(t)
	r.playlist("/segments.m3u8", r.plain, r.b+"/plain/", "")
	r.refused(r.attack("segments", r.a+"/segments.m3u8"), r.b+"/plain/index0.ts")
}

func TestAttackCaptureVariantOnOtherHost(t *testing.T) {
	r := newCaptureRig(t)
	master := "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=320x180\n" + r.b + "/plain/index.m3u8\n"
	r.serve("/master.m3u8", master) // read first by the stall check
	r.serve("/master", master)      // read by ffmpeg through the relay
	r.refused(r.attack("variant-playlist", r.a+"/master.m3u8"), r.b+"/plain/index.m3u8")
	r.refused(r.attack("variant", r.a+"/master"), r.b+"/plain/index.m3u8")
}

func TestAttackCaptureKeyURIOnOtherHost(t *testing.T) {
	r := newCaptureRig(t)
	// The legitimate encrypted stream, key on A, captures through the relay.
	r.put("legit-encrypted", r.a+"/enc/index.m3u8", false)
	if code := r.p.request("POST", "/v1/capture/jobs/legit-encrypted/trigger", r.key, "", nil); code != http.StatusAccepted {
		t.Fatalf("trigger: %d", code)
	}
	r.waitCaptures("legit-encrypted", 1)
	r.playlist("/key.m3u8", r.enc, r.a+"/enc/", r.b+"/enc/key.bin")
	r.refused(r.attack("key", r.a+"/key.m3u8"), r.b+"/enc/key.bin")
}

func TestAttackCapturePortScanBanner(t *testing.T) {
	r := newCaptureRig(t)
	bannerB, connsB := captureBanner(t, captureHostB, "INFO {\"server_id\":\"BANNER-B\",\"version\":\"2.10\"}\r\n")
	bannerA, _ := captureBanner(t, captureHostA, "INFO {\"server_id\":\"BANNER-A\",\"version\":\"2.10\"}\r\n")
	leaks := []string{"BANNER", "INFO", "server_id", "realm", "build 4.2"}

	// Host B's port, named directly: refused when the job is added.
	var problem map[string]any
	code := r.p.request("PUT", "/v1/capture/jobs/scan", r.key, fmt.Sprintf(`{"source":"http://%s/x.m3u8"}`, bannerB), &problem)
	if raw, _ := json.Marshal(problem); code != http.StatusBadRequest || !strings.Contains(string(raw), "not in capture.allow") || strings.Contains(string(raw), "BANNER") {
		t.Errorf("PUT of a job on host B: %d %s", code, raw)
	}
	// Host B's port behind a redirect from A: refused before it is dialled.
	r.routes.HandleFunc("/scan", func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, "http://"+bannerB+"/", http.StatusFound)
	})
	r.refused(r.attack("scan-redirect", r.a+"/scan"), "http://"+bannerB+"/", leaks...)
	if n := connsB.Load(); n != 0 {
		t.Errorf("host B's banner port got %d connections", n)
	}
	// Ports of the allowed host: the error says how the port failed and
	// nothing of what it said.
	r.routes.HandleFunc("/denied.m3u8", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="BANNER-REALM"`)
		http.Error(w, "BANNER-BODY internal build 4.2", http.StatusUnauthorized)
	})
	for job, c := range map[string]struct{ source, want string }{
		"scan-banner": {"http://" + bannerA + "/x.m3u8", "source http://" + bannerA + "/x.m3u8 did not answer (network error)"},
		"scan-401":    {r.a + "/denied.m3u8", "source " + r.a + "/denied.m3u8 answered HTTP 401"},
	} {
		got := r.attack(job, c.source)
		if got != c.want {
			t.Errorf("%s: error %q, want %q", job, got, c.want)
		}
		for _, leak := range leaks {
			if strings.Contains(got, leak) {
				t.Errorf("%s: error %q shows %q", job, got, leak)
			}
		}
	}
}

// A scheduled job is read by a warm ffmpeg that keeps running between
// ticks (issue 18): its playlist on A lists segments on B. The warm
// process reads through the same relay, so B is never asked; the job
// fails with the refused URL and stores no frame.
func TestAttackCaptureWarmSegmentsOnOtherHost(t *testing.T) {
	r := newCaptureRig(t)
	if httpMetric(r.p, "stadion_capture_warm_starts_total", `result="ok"`) < 1 {
		t.Fatal("the legitimate scheduled job runs no warm ffmpeg: the attack would not test the warm path")
	}
	r.playlist("/warm.m3u8", r.plain, r.b+"/plain/", "")
	before := r.job("legit").Captures
	r.put("warm-segments", r.a+"/warm.m3u8", true)
	deadline := time.Now().Add(60 * time.Second)
	var v captureJobView
	for v = r.job("warm-segments"); v.LastError == "" && v.Captures == 0; v = r.job("warm-segments") {
		if time.Now().After(deadline) {
			t.Fatalf("no outcome in 60s\n%s", r.p.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v.Captures != 0 {
		t.Errorf("the job stored %d frames from host B", v.Captures)
	}
	r.refused(v.LastError, r.b+"/plain/index0.ts")
	r.waitCaptures("legit", before+2)
	if n := r.bHits.Load(); n != 0 {
		t.Errorf("host B got %d requests", n)
	}
}
