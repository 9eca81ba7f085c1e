package abuse

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/client"
)

// abuseConfig is the server's configuration in bench abuse: one topic, a
// publisher, a legitimate reader and the attacker's subscriber client,
// and live comments open to anonymous viewers (the MQTT attacks' door).
const abuseConfig = `# written by stadion bench abuse
topics:
  scores:
    kind: realtime
    publishers: [source]
    subscribers: [reader, attacker]
clients:
  source: {}
  reader: {}
  attacker: {}
live:
  rooms: ["*"]
  anonymous_read: true
`

const abuseTopic = "scores"

// abuseRig is a server under test with the keys of its clients.
type abuseRig struct {
	srv      *rig.Child
	source   string // API keys
	attacker string
	hc       *http.Client
}

// startAbuseServer starts a server in dir with the bench's configuration
// and creates its clients' keys.
func startAbuseServer(ctx context.Context, bin, dir string) (*abuseRig, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "stadion.yaml")
	if err := os.WriteFile(cfg, []byte(abuseConfig), 0o600); err != nil {
		return nil, err
	}
	srv, err := rig.StartChild(ctx, bin, filepath.Join(dir, "data"), "--config", cfg, "--log-level", "error")
	if err != nil {
		return nil, err
	}
	r := &abuseRig{srv: srv, hc: rig.HTTPClient(64)}
	admin := &client.Client{Base: srv.Ep.HTTP, Token: srv.AdminKey, HTTP: http.DefaultClient}
	for _, k := range []struct {
		client string
		to     *string
	}{{"source", &r.source}, {"attacker", &r.attacker}} {
		var key struct {
			Key string `json:"key"`
		}
		if err := admin.Do(ctx, "POST", "/v1/clients/"+k.client+"/keys", "", nil, nil, &key); err != nil {
			r.stop()
			return nil, fmt.Errorf("creating a key for %s: %w", k.client, err)
		}
		*k.to = key.Key
	}
	if srv.Ep.MQTT == "" {
		r.stop()
		return nil, fmt.Errorf("the server under test opened no MQTT listener")
	}
	return r, nil
}

func (r *abuseRig) stop() error {
	r.hc.CloseIdleConnections()
	return r.srv.Stop(10 * time.Second)
}

// fill publishes n events of about 1 KiB in batches: the backlog a stream
// replaying the topic from its start is sent.
func (r *abuseRig) fill(ctx context.Context, n int) error {
	pad := strings.Repeat("x", 1000)
	for done := 0; done < n; {
		var b bytes.Buffer
		b.WriteByte('[')
		for i := 0; i < 500 && done < n; i, done = i+1, done+1 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"n":%d,"pad":%q}`, done, pad)
		}
		b.WriteByte(']')
		if err := r.publish(ctx, b.Bytes()); err != nil {
			return fmt.Errorf("filling the backlog: %w", err)
		}
	}
	return nil
}

// publish posts body to the topic as client source; anything but 202 is
// an error.
func (r *abuseRig) publish(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.srv.Ep.HTTP+"/v1/topics/"+abuseTopic+"/events", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.source)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("publish answered %d", resp.StatusCode)
	}
	return nil
}

// legit is the legitimate client's operation: one small event.
func (r *abuseRig) legit(ctx context.Context, w int) (int, error) {
	body := strconv.AppendInt([]byte(`{"n":`), time.Now().UnixNano(), 10)
	body = append(body, `,"from":"legitimate"}`...)
	return 1, r.publish(ctx, body)
}

// abuseWatch polls /readyz and samples the server's memory every 100 ms
// until stopped.
type abuseWatch struct {
	polls, bad int
	firstBad   string
	peakRSS    uint64
	quit, done chan struct{}
}

func watchServer(r *abuseRig) *abuseWatch {
	w := &abuseWatch{quit: make(chan struct{}), done: make(chan struct{})}
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			w.sample(hc, r)
			select {
			case <-w.quit:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *abuseWatch) sample(hc *http.Client, r *abuseRig) {
	if rss, err := r.srv.Rss(); err == nil {
		w.peakRSS = max(w.peakRSS, rss)
	}
	w.polls++
	resp, err := hc.Get(r.srv.Ep.HTTP + "/readyz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
		err = fmt.Errorf("answered %d", resp.StatusCode)
	}
	w.bad++
	if w.firstBad == "" {
		w.firstBad = err.Error()
	}
}

// stop ends the watch; its fields are final after it returns.
func (w *abuseWatch) stop() {
	close(w.quit)
	<-w.done
}

// openFileLimit is a process's soft limit of open files, from
// /proc/PID/limits (0 when unknown).
func openFileLimit(pid int) uint64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Max open files")
		if f := strings.Fields(rest); ok && len(f) > 0 {
			n, _ := strconv.ParseUint(f[0], 10, 64)
			return n
		}
	}
	return 0
}

// abuseCounter counts the outcomes of an attack's attempts from many
// goroutines.
type abuseCounter struct {
	mu                        sync.Mutex
	attempts, refused, failed int64
	accepted                  int64
	firstErr                  string
}

func (c *abuseCounter) add(refused, accepted bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attempts++
	switch {
	case err != nil:
		c.failed++
		if c.firstErr == "" {
			c.firstErr = err.Error()
		}
	case refused:
		c.refused++
	case accepted:
		c.accepted++
	}
}
