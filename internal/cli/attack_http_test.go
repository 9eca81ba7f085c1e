package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The tests in this file attack the HTTP API of the real binary as an
// outside party would, with only a normal client's key, and check that the
// attack fails while a legitimate client beside it keeps working.

const httpAttackConfig = "testdata/attack_http/stadion.yaml"

// httpRSS reads the resident set size of process pid, in bytes.
func httpRSS(t *testing.T, pid int) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}

// httpMetric sums the samples of a metric family on the process's
// /metrics whose labels contain label (e.g. `kind="sse"`, or "").
func httpMetric(p *proc, name, label string) float64 {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.http+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+p.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		if !strings.Contains(line, label) {
			continue
		}
		f, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		sum += f
	}
	return sum
}

// httpLogs is what the process logged so far.
func httpLogs(p *proc) string {
	sw := p.cmd.Stderr.(*syncWriter)
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return p.stderr.String()
}

// httpCreateKey makes a key for client and returns it with its id.
func httpCreateKey(p *proc, client string) (key, id string) {
	p.t.Helper()
	var out struct{ Key, ID string }
	if code := p.request("POST", "/v1/clients/"+client+"/keys", p.admin, "", &out); code != 201 {
		p.t.Fatalf("create key for %s: %d", client, code)
	}
	return out.Key, out.ID
}

// httpDialStalled connects with a 4 KiB receive buffer, so that a reader
// that never reads fills up after a few writes.
func httpDialStalled(t *testing.T, base string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// httpFollower reads a topic's SSE stream the way a well-behaved client
// does, counting the events it gets.
type httpFollower struct {
	events atomic.Int64
	ended  chan struct{}
	cancel context.CancelFunc
}

func httpFollow(t *testing.T, p *proc, key, topic string) *httpFollower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", p.http+"/v1/topics/"+topic+"/stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		cancel()
		t.Fatalf("follow %s: %v %v", topic, err, resp)
	}
	f := &httpFollower{ended: make(chan struct{}), cancel: cancel}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	go func() {
		defer close(f.ended)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				f.events.Add(1)
			}
		}
	}()
	return f
}

// httpBystander publishes and checks /readyz every 50 ms until stopped,
// recording every answer that is not 202 / 200.
type httpBystander struct {
	stop     chan struct{}
	done     chan struct{}
	sent     atomic.Int64
	mu       sync.Mutex
	failures []string
	slowest  time.Duration
}

func httpStartBystander(p *proc, key string) *httpBystander {
	b := &httpBystander{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second}
	call := func(method, path, body string) (int, error) {
		req, _ := http.NewRequest(method, p.http+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	go func() {
		defer close(b.done)
		for i := 0; ; i++ {
			start := time.Now()
			code, err := call("POST", "/v1/topics/laps/events", fmt.Sprintf(`{"athlete":"BYS-%d","n":%d}`, i%10, i))
			took := time.Since(start)
			rcode, rerr := call("GET", "/readyz", "")
			b.mu.Lock()
			b.slowest = max(b.slowest, took)
			if code != 202 {
				b.failures = append(b.failures, fmt.Sprintf("publish: %d %v", code, err))
			} else {
				b.sent.Add(1)
			}
			if rcode != 200 {
				b.failures = append(b.failures, fmt.Sprintf("readyz: %d %v", rcode, rerr))
			}
			b.mu.Unlock()
			select {
			case <-b.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return b
}

func (b *httpBystander) finish(t *testing.T) {
	t.Helper()
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.failures) > 0 {
		t.Errorf("the legitimate client was disturbed (%d failures), first: %s", len(b.failures), b.failures[0])
	}
	if b.sent.Load() == 0 {
		t.Error("the legitimate client published nothing")
	}
	t.Logf("legitimate client: %d publishes, slowest %v", b.sent.Load(), b.slowest)
}

// TestAttackNonReadingSSEStreams: one subscriber key opens 300 SSE streams
// from the start of a topic holding 12 MiB and never reads. At most
// exchange.streams_per_client (16) are admitted, the rest are refused with
// 429; the admitted ones are cut once they stall; server memory stays
// bounded; and a legitimate publisher, /readyz and a legitimate follower
// are not disturbed.
func TestAttackNonReadingSSEStreams(t *testing.T) {
	p := startUp(t, t.TempDir(), "--config", httpAttackConfig)
	timing, screens, board := p.createKey("timing"), p.createKey("screens"), p.createKey("board")
	pad := strings.Repeat("x", 64<<10)
	for i := range 192 {
		if code := p.request("POST", "/v1/topics/laps/events", timing, fmt.Sprintf(`{"athlete":"PAD-%d","n":%d,"pad":%q}`, i%20, i, pad), nil); code != 202 {
			t.Fatalf("publish: %d", code)
		}
	}
	pid := p.cmd.Process.Pid
	baseline := httpRSS(t, pid)
	follower := httpFollow(t, p, board, "laps")
	bystander := httpStartBystander(p, timing)

	const attempts = 300
	codes := map[int]int{}
	peak := baseline
	for i := range attempts {
		if i%50 == 0 {
			peak = max(peak, httpRSS(t, pid))
		}
		c := httpDialStalled(t, p.http)
		fmt.Fprintf(c, "GET /v1/topics/laps/stream?after_seq=0 HTTP/1.1\r\nHost: stadion\r\nAuthorization: Bearer %s\r\n\r\n", screens)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		status, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("attack stream: %v", err)
		}
		f := strings.Fields(status)
		code := 0
		if len(f) > 1 {
			code, _ = strconv.Atoi(f[1])
		}
		codes[code]++
		// From here on the attacker reads nothing more on c.
	}
	t.Logf("attack streams: %v", codes)
	if codes[200] > 16 || codes[200]+codes[429] != attempts {
		t.Fatalf("attack streams answered %v; want at most 16 admitted and the rest refused with 429", codes)
	}
	if got := httpMetric(p, "stadion_http_streams_refused_total", `kind="sse"`); int(got) != codes[429] {
		t.Errorf("stadion_http_streams_refused_total = %v, want %d", got, codes[429])
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		peak = max(peak, httpRSS(t, pid))
		cut := httpMetric(p, "stadion_http_streams_closed_slow_total", `kind="sse"`)
		open := httpMetric(p, "stadion_http_streams_open", `kind="sse"`)
		if int(cut) >= codes[200] && open == 1 { // only the follower is left
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stalled streams not cut: %v cut of %d admitted, %v open", cut, codes[200], open)
		}
		time.Sleep(100 * time.Millisecond)
	}
	bystander.finish(t)
	if got := follower.events.Load(); got < bystander.sent.Load() {
		t.Errorf("the legitimate follower got %d events of the %d published beside the attack", got, bystander.sent.Load())
	}
	logs := httpLogs(p)
	for _, bad := range []string{"Slow Consumer", "engine connection lost"} {
		if strings.Contains(logs, bad) {
			t.Errorf("the server logged %q under the attack: its engine connection was hurt", bad)
		}
	}
	t.Logf("RSS: baseline %d MiB, peak %d MiB", baseline>>20, peak>>20)
	if peak > baseline+256<<20 {
		t.Errorf("server RSS grew from %d MiB to %d MiB under the attack (bound: +256 MiB)", baseline>>20, peak>>20)
	}
}

// TestAttackRevokedKeyKeepsSSE: a subscriber whose key is revoked keeps
// nothing: its open SSE stream ends within a second, and the key opens no
// new one; another subscriber's stream goes on.
func TestAttackRevokedKeyKeepsSSE(t *testing.T) {
	p := startUp(t, t.TempDir(), "--config", httpAttackConfig)
	timing, board := p.createKey("timing"), p.createKey("board")
	key, id := httpCreateKey(p, "screens")
	attacker := httpFollow(t, p, key, "laps")
	legit := httpFollow(t, p, board, "laps")
	if code := p.request("POST", "/v1/topics/laps/events", timing, `{"athlete":"REV-1","n":1}`, nil); code != 202 {
		t.Fatalf("publish: %d", code)
	}
	waitFor(t, "both followers to get the event", func() bool { return attacker.events.Load() == 1 && legit.events.Load() == 1 })

	if code := p.request("DELETE", "/v1/clients/screens/keys/"+id, p.admin, "", nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	revoked := time.Now()
	select {
	case <-attacker.ended:
		t.Logf("stream ended %v after revocation", time.Since(revoked))
	case <-time.After(time.Second):
		t.Fatal("the revoked key's SSE stream is still open 1s after revocation")
	}
	req, _ := http.NewRequest("GET", p.http+"/v1/topics/laps/stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("new stream with the revoked key: %v %v, want 401", err, resp)
	} else {
		resp.Body.Close()
	}
	if code := p.request("POST", "/v1/topics/laps/events", timing, `{"athlete":"REV-1","n":2}`, nil); code != 202 {
		t.Fatalf("publish: %d", code)
	}
	waitFor(t, "the legitimate follower to get the next event", func() bool { return legit.events.Load() == 2 })
}

// TestAttackConsumerKeyLeaksInError: asking for the subscriptions
// bucket's internal entry as if it were a subscription answers 404 and
// says nothing of the secret, for a client and for the admin; a
// legitimate subscription beside it works.
func TestAttackConsumerKeyLeaksInError(t *testing.T) {
	p := startUp(t, t.TempDir(), "--config", httpAttackConfig)
	screens, timing := p.createKey("screens"), p.createKey("timing")
	for _, key := range []string{screens, p.admin} {
		for _, path := range []string{"/v1/subscriptions/_consumer-key", "/v1/subscriptions/_consumer-key/dead-letters"} {
			var body map[string]any
			code := p.request("GET", path, key, "", &body)
			if code != 404 {
				t.Errorf("GET %s: %d %v, want 404", path, code, body)
			}
			if d, _ := body["detail"].(string); strings.Contains(d, "invalid character") || strings.Contains(d, "engine") {
				t.Errorf("GET %s answers %q", path, d)
			}
		}
		if code := p.request("PUT", "/v1/subscriptions/_consumer-key", key, `{"topic":"laps"}`, nil); code != 400 {
			t.Errorf("PUT _consumer-key: %d, want 400", code)
		}
	}
	if code := p.request("PUT", "/v1/subscriptions/scoreboard", screens, `{"topic":"laps","start":"earliest"}`, nil); code != 201 {
		t.Fatalf("legitimate subscription: %d", code)
	}
	if code := p.request("POST", "/v1/topics/laps/events", timing, `{"athlete":"SUB-1","n":1}`, nil); code != 202 {
		t.Fatalf("publish: %d", code)
	}
	var pulled struct{ Events []map[string]any }
	if code := p.request("POST", "/v1/subscriptions/scoreboard/pull", screens, `{"max":1,"wait":"5s"}`, &pulled); code != 200 || len(pulled.Events) != 1 {
		t.Errorf("legitimate pull: %d, %d events", code, len(pulled.Events))
	}
}

// TestAttackMetricsWithoutKey: with metrics.auth on (the default), /metrics
// answers 401 without a key and 403 to a client without the metrics role
// (its labels name other clients' subscriptions and jobs); a scraper with
// the metrics role, and the admin, read it.
func TestAttackMetricsWithoutKey(t *testing.T) {
	p := startUp(t, t.TempDir(), "--config", httpAttackConfig)
	get := func(key string) (int, string) {
		req, _ := http.NewRequest("GET", p.http+"/metrics", nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	if code, body := get(""); code != 401 || strings.Contains(body, "stadion_") {
		t.Errorf("/metrics without a key: %d", code)
	}
	if code, body := get(p.createKey("screens")); code != 403 || strings.Contains(body, "stadion_") {
		t.Errorf("/metrics with a client key: %d", code)
	}
	for _, key := range []string{p.createKey("scraper"), p.admin} {
		if code, body := get(key); code != 200 || !strings.Contains(body, "stadion_http_streams_open") {
			t.Errorf("/metrics with a scraper's key: %d", code)
		}
	}
}

// TestAttackSinkDatabaseWorldReadable: under a umask that lets everyone
// read new files, a sink's SQLite database (personal data) and its WAL
// companions are still created 0600.
func TestAttackSinkDatabaseWorldReadable(t *testing.T) {
	old := syscall.Umask(0)
	data := t.TempDir()
	p := startUp(t, data, "--config", httpAttackConfig)
	syscall.Umask(old)
	timing := p.createKey("timing")
	if code := p.request("POST", "/v1/topics/laps/events", timing, `{"athlete":"DB-1","n":1}`, nil); code != 202 {
		t.Fatalf("publish: %d", code)
	}
	waitFor(t, "the sink to write", func() bool {
		var st struct {
			RowsWritten uint64 `json:"rows_written"`
		}
		return p.request("GET", "/v1/sinks/laps-db", p.admin, "", &st) == 200 && st.RowsWritten >= 1
	})
	for _, name := range []string{"laps.db", "laps.db-wal", "laps.db-shm"} {
		st, err := os.Stat(filepath.Join(data, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, st.Mode().Perm())
		}
	}
}
