package sink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nuid"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/loop"
)

// sinkRun is one server under test with the arrivals topic and its sink,
// and a connection of this process to the sink's database.
type sinkRun struct {
	tmp   string
	srv   *rig.Child
	db    sinkConn
	api   *client.Client
	hc    *http.Client
	url   string // the topic's publish URL
	table string

	rowsRead [][]any // the sink's table after the burst

	pprof, profile string // the server's profiler address and the file for its drain profile
}

const sinkName = "arrivals-db"

// startSinkRun starts a server whose sink drains into a fresh table of db
// (with max_rate when rate > 0) and pauses the sink.
func startSinkRun(ctx context.Context, env cmdio.Env, o sinkOptions, db sinkDB, rate float64) (r *sinkRun, err error) {
	r = &sinkRun{table: "arrivals"}
	if db.kind == "postgres" { // a table of its own in a shared database
		r.table = "bench_arrivals_" + strings.ToLower(nuid.Next())
	}
	if r.tmp, err = os.MkdirTemp("", "stadion-bench-sink-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			r.close(env)
		}
	}()
	cfg, err := writeSinkConfig(filepath.Join(r.tmp, "config"), db, r.table, o.batch, rate)
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(r.tmp, "data")
	fmt.Fprintf(env.Stderr, "%s: starting %s up\n", db.kind, o.bin)
	args := []string{"--config", cfg, "--log-level", "warn"}
	if o.profile != "" && rate == 0 {
		if r.pprof, err = freeLoopbackAddr(); err != nil {
			return nil, err
		}
		r.profile = o.profile + "-" + db.kind + ".pprof"
		args = append(args, "--pprof", r.pprof)
	}
	if r.srv, err = rig.StartChild(ctx, o.bin, dataDir, args...); err != nil {
		return nil, err
	}
	ep := r.srv.Endpoints()
	r.hc = rig.HTTPClient(o.publishers + 1)
	r.api = &client.Client{Base: ep.HTTP, Token: r.srv.AdminKey, HTTP: r.hc}
	r.url = ep.HTTP + "/v1/topics/arrivals/events"
	if r.db, err = openSinkConn(ctx, db, filepath.Join(dataDir, "sink.db"), r.table); err != nil {
		return nil, err
	}
	return r, r.setPaused(ctx, true)
}

// close stops the server and removes what the run made.
func (r *sinkRun) close(env cmdio.Env) {
	if r.db != nil {
		if err := r.db.close(); err != nil {
			fmt.Fprintf(env.Stderr, "warning: %v\n", err)
		}
	}
	if r.srv != nil {
		if err := r.srv.Stop(20 * time.Second); err != nil {
			fmt.Fprintf(env.Stderr, "warning: %v\n", err)
		}
	}
	if r.hc != nil {
		r.hc.CloseIdleConnections()
	}
	os.RemoveAll(r.tmp)
}

func (r *sinkRun) setPaused(ctx context.Context, paused bool) error {
	action := "/resume"
	if paused {
		action = "/pause"
	}
	return r.api.Do(ctx, "POST", client.SinkPath(sinkName, action), "", nil, nil, nil)
}

func (r *sinkRun) status(ctx context.Context) (client.SinkRow, error) {
	var st client.SinkRow
	err := r.api.Do(ctx, "GET", client.SinkPath(sinkName, ""), "", nil, nil, &st)
	return st, err
}

// publishResult counts what the gateway made of a burst.
type publishResult struct {
	Accepted, RejectedCapacity, RejectedOther int64
	FirstError                                string
	Seconds                                   float64
}

// publish offers the batches from o.publishers clients as fast as the
// server answers; nothing is retried.
func (r *sinkRun) publish(ctx context.Context, o sinkOptions, batches [][]byte, sizes []int) publishResult {
	var res publishResult
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range o.publishers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(batches) && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				code, err := r.post(ctx, batches[i])
				mu.Lock()
				switch {
				case err == nil:
					res.Accepted += int64(sizes[i])
				case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable || code == http.StatusInsufficientStorage:
					res.RejectedCapacity += int64(sizes[i])
				default:
					res.RejectedOther += int64(sizes[i])
				}
				if err != nil && res.FirstError == "" {
					res.FirstError = err.Error()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	return res
}

// post publishes one batch; anything but 202 Accepted is an error.
func (r *sinkRun) post(ctx context.Context, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+r.srv.AdminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return resp.StatusCode, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// waitDrained resumes the sink and polls its status until it has no lag
// and has written or dead-lettered want events; it returns the time taken.
func (r *sinkRun) waitDrained(ctx context.Context, want int64, limit time.Duration) (time.Duration, client.SinkRow, error) {
	if err := r.setPaused(ctx, false); err != nil {
		return 0, client.SinkRow{}, err
	}
	start := time.Now()
	if r.profile != "" {
		done := r.profileServer(ctx)
		defer func() { <-done }()
	}
	for deadline := start.Add(limit); ; {
		st, err := r.status(ctx)
		if err != nil {
			return 0, st, err
		}
		if st.Lag == 0 && int64(st.RowsWritten+st.DeadLetters) >= want {
			return time.Since(start), st, nil
		}
		if time.Now().After(deadline) {
			return 0, st, fmt.Errorf("sink %s not drained within %v: lag %d, %d rows written, %d dead letters, last error %q",
				sinkName, limit, st.Lag, st.RowsWritten, st.DeadLetters, st.LastError)
		}
		if !loop.SleepUntil(ctx, time.Now().Add(pollEvery)) {
			return 0, st, ctx.Err()
		}
	}
}

// drainLimit bounds a drain of n events (at least 1,000 rows/s).
func drainLimit(n int) time.Duration {
	return max(2*time.Minute, time.Duration(n/1000)*time.Second)
}

// profileSeconds is how long the server's CPU is profiled from the resume.
const profileSeconds = 5

// profileServer writes a CPU profile and an execution trace (where the
// goroutines wait) of the server's first seconds of draining to
// r.profile and r.profile's .trace; the channel closes when both are
// written.
func (r *sinkRun) profileServer(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	fetch := func(kind, file string) {
		url := fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", r.pprof, kind, profileSeconds)
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(file)
		if err != nil {
			return
		}
		_, _ = io.Copy(f, resp.Body)
		_ = f.Close()
	}
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		wg.Go(func() { fetch("profile", r.profile) })
		wg.Go(func() { fetch("trace", strings.TrimSuffix(r.profile, ".pprof")+".trace") })
		wg.Wait()
	}()
	return done
}

// freeLoopbackAddr is a loopback address whose port was free a moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
