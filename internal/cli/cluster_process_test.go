package cli

import (
	"bufio"
	"encoding/json"
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

// The tests in this file run three `stadion up` processes as one
// replicated cluster (engine.replicas 3) on loopback.

// clusterRig is a three-node stadion cluster of real processes.
type clusterRig struct {
	t      *testing.T
	config string   // the shared stadion.yaml
	db     string   // the SQLite file the sink writes, shared by the nodes
	data   []string // each node's --data
	listen []string // each node's route listener
	routes string
	extra  []string // more flags for every node

	mu    sync.Mutex
	nodes []*proc // nil while a node is down
}

const clusterConfig = `# written by cluster_process_test.go
engine: {replicas: 3}
topics:
  laps:
    kind: realtime
    schema: schemas/lap.json
    key: /athlete
    publishers: [timing]
    subscribers: [screens]
clients:
  timing: {}
  screens: {}
databases:
  main: {url: "sqlite://%s"}
sinks:
  laps-db:
    topic: laps
    database: main
    table: laps
    key: [n]
    columns: {athlete: /athlete, n: /n, ms: /ms}
    batch: {size: 50, max_wait: 50ms}
`

func startClusterProcs(t *testing.T, n int) *clusterRig {
	t.Helper()
	dir := t.TempDir()
	return startClusterRig(t, n, dir, fmt.Sprintf(clusterConfig, filepath.Join(dir, "laps.db")),
		[]string{"testdata/durable/schemas/lap.json"})
}

// startClusterRig starts n nodes in dir with config (stadion.yaml) and the
// given schema files copied to dir/schemas; extra flags go to every node.
func startClusterRig(t *testing.T, n int, dir, config string, schemas []string, extra ...string) *clusterRig {
	t.Helper()
	c := &clusterRig{t: t, db: filepath.Join(dir, "laps.db"), config: filepath.Join(dir, "stadion.yaml"), extra: extra}
	if err := os.MkdirAll(filepath.Join(dir, "schemas"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range schemas {
		schema, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "schemas", filepath.Base(s)), schema, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(c.config, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	var routes []string
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c.listen = append(c.listen, ln.Addr().String())
		ln.Close()
		routes = append(routes, "nats-route://"+c.listen[i])
		c.data = append(c.data, filepath.Join(dir, fmt.Sprintf("n%d", i+1)))
	}
	c.routes = strings.Join(routes, ",")
	c.nodes = make([]*proc, n)
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	c.start(all...)
	c.waitStreamsReplicated()
	return c
}

// start launches the given nodes at once (each waits for its peers) and
// waits until each is ready.
func (c *clusterRig) start(idx ...int) {
	c.t.Helper()
	ps := make([]*proc, len(idx))
	for k, i := range idx {
		ps[k] = launchProc(c.t, c.data[i], append([]string{"--config", c.config, "--node", fmt.Sprintf("n%d", i+1),
			"--cluster", c.listen[i], "--routes", c.routes, "--peer-wait", "90s"}, c.extra...)...)
		ps[k].readyWait = 120 * time.Second
	}
	for k, i := range idx {
		ps[k].waitReady()
		c.mu.Lock()
		c.nodes[i] = ps[k]
		c.mu.Unlock()
	}
}

// createKey makes a key for client on node i and waits until every node
// accepts it: nodes learn keys from the replicated bucket's watch, so a
// key is usable elsewhere a moment after it is made.
func (c *clusterRig) createKey(i int, client string) string {
	c.t.Helper()
	key := c.nodes[i].createKey(client)
	for j := range c.nodes {
		p := c.nodes[j]
		waitFor(c.t, fmt.Sprintf("n%d to accept the new %s key", j+1, client), func() bool {
			return p.request("GET", "/v1/topics", key, "", nil) == 200
		})
	}
	return key
}

// kill9 sends SIGKILL to node i and waits for it to exit.
func (c *clusterRig) kill9(i int) {
	c.mu.Lock()
	p := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	<-p.exited
}

// url is node i's HTTP API, or "" while it is down.
func (c *clusterRig) url(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodes[i] == nil {
		return ""
	}
	return c.nodes[i].http
}

func (c *clusterRig) up() *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.nodes {
		if p != nil {
			return p
		}
	}
	c.t.Fatal("no node is up")
	return nil
}

type clusterView struct {
	Leader    string   `json:"meta_leader"`
	Reachable []string `json:"reachable"`
	Quorum    string   `json:"quorum"`
	Streams   map[string]struct {
		Leader   string   `json:"leader"`
		Replicas []string `json:"replicas"`
		Current  int      `json:"current"`
	} `json:"streams"`
}

func (c *clusterRig) view(p *proc) clusterView {
	var v clusterView
	p.request("GET", "/v1/cluster", p.admin, "", &v)
	return v
}

// waitStreamsReplicated polls until every stream has a leader and three
// current copies.
func (c *clusterRig) waitStreamsReplicated() {
	c.t.Helper()
	waitFor(c.t, "every stream led with 3 current copies", func() bool {
		v := c.view(c.up())
		if v.Leader == "" || len(v.Streams) == 0 {
			return false
		}
		for _, s := range v.Streams {
			if s.Leader == "" || s.Current < 3 {
				return false
			}
		}
		return true
	})
}

// leaderOf is the index of the node leading stream.
func (c *clusterRig) leaderOf(stream string) int {
	c.t.Helper()
	var name string
	waitFor(c.t, stream+" to have a leader", func() bool {
		name = c.view(c.up()).Streams[stream].Leader
		return name != ""
	})
	var i int
	if _, err := fmt.Sscanf(name, "n%d", &i); err != nil {
		c.t.Fatalf("leader %q: %v", name, err)
	}
	return i - 1
}

// post publishes one event with an Idempotency-Key to base.
func post(base, key, idem, body string) (int, string, error) {
	return postTo(base, "laps", key, idem, body)
}

// postTo publishes one event to topic with an Idempotency-Key.
func postTo(base, topic, key, idem, body string) (int, string, error) {
	req, _ := http.NewRequest("POST", base+"/v1/topics/"+topic+"/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idem)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(raw), nil
}

// publishRetrying publishes event n starting at node n%3 and, on failure,
// retries the same Idempotency-Key on the next node until acknowledged.
// It returns the number of failed attempts.
func (c *clusterRig) publishRetrying(key string, n int) (int, error) {
	return c.publishTopicRetrying("laps", key, n)
}

// publishTopicRetrying is publishRetrying to another topic of lap events.
func (c *clusterRig) publishTopicRetrying(topic, key string, n int) (int, error) {
	body := fmt.Sprintf(`{"athlete":"NOR-%d","n":%d,"ms":%d}`, n%50, n, 60000+n)
	idem := fmt.Sprintf("lap-%d", n)
	deadline := time.Now().Add(2 * time.Minute)
	failed := 0
	for i := n; time.Now().Before(deadline); i++ {
		base := c.url(i % len(c.data))
		if base == "" {
			continue
		}
		code, _, err := postTo(base, topic, key, idem, body)
		if err == nil && code == 202 {
			return failed, nil
		}
		failed++
		if err == nil && code != 503 && code != 500 {
			return failed, fmt.Errorf("event %d: HTTP %d", n, code)
		}
		time.Sleep(50 * time.Millisecond) // back off before the next node
	}
	return failed, fmt.Errorf("event %d: not acknowledged in 2m", n)
}

// publishAll publishes events [0,total) from workers concurrent clients,
// calling at(k) after the k-th acknowledgement (in one goroutine).
func (c *clusterRig) publishAll(key string, total, workers int, at func(k int)) (failures int64) {
	c.t.Helper()
	var next, acked atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	ackCh := make(chan struct{}, total)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := int(next.Add(1) - 1)
				if n >= total {
					return
				}
				f, err := c.publishRetrying(key, n)
				failed.Add(int64(f))
				if err != nil {
					c.t.Error(err)
					return
				}
				ackCh <- struct{}{}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-ackCh:
			if at != nil {
				at(int(acked.Add(1)))
			}
		case <-done:
			return failed.Load()
		}
	}
}

// checkEvents asserts that every node serves exactly total events, each
// n once, in one order. A node that restarted may still be catching up a
// moment after it reports current, so the check is polled (bounded).
func (c *clusterRig) checkEvents(screens string, total int) {
	c.t.Helper()
	var last error
	deadline := time.Now().Add(60 * time.Second)
	for {
		if last = c.eventsErr(screens, total); last == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatal(last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (c *clusterRig) eventsErr(screens string, total int) error {
	var first []string
	for i := range c.nodes {
		events := c.nodes[i].readAll("laps", screens)
		if len(events) != total {
			return fmt.Errorf("node n%d serves %d events, want %d", i+1, len(events), total)
		}
		seen := map[float64]bool{}
		var order []string
		for _, ev := range events {
			n := ev["data"].(map[string]any)["n"].(float64)
			if seen[n] {
				c.t.Fatalf("node n%d: event n=%v stored twice", i+1, n)
			}
			seen[n] = true
			order = append(order, fmt.Sprint(ev["seq"], ":", n))
		}
		if first == nil {
			first = order
		} else if strings.Join(order, ",") != strings.Join(first, ",") {
			return fmt.Errorf("node n%d serves the events in another order than n1", i+1)
		}
	}
	return nil
}

// TestClusterRefusesWritesWithoutQuorum: with two of three nodes down, a
// write answers 503 naming the lost quorum within the request deadline,
// reads of what is stored still work, and when the nodes return nothing
// acknowledged is lost.
func TestClusterRefusesWritesWithoutQuorum(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster of real processes")
	}
	c := startClusterProcs(t, 3)
	timing, screens := c.createKey(0, "timing"), c.createKey(0, "screens")
	for n := range 20 {
		if _, err := c.publishRetrying(timing, n); err != nil {
			t.Fatal(err)
		}
	}
	// The engine's dedupe is the stream's, not a node's: the same
	// Idempotency-Key sent to another node is the same event.
	var receipts [3]struct {
		Seq       float64 `json:"seq"`
		ID        string  `json:"id"`
		Duplicate bool    `json:"duplicate"`
	}
	for i := range receipts {
		code, body, err := post(c.url(i), timing, "lap-0", `{"athlete":"NOR-0","n":0,"ms":60000}`)
		if err != nil || code != 202 || json.Unmarshal([]byte(body), &receipts[i]) != nil {
			t.Fatalf("resend to n%d: %d %s %v", i+1, code, body, err)
		}
		if !receipts[i].Duplicate || receipts[i].Seq != receipts[0].Seq || receipts[i].ID != receipts[0].ID {
			t.Fatalf("resend to n%d: %+v, want the original (%+v) marked duplicate", i+1, receipts[i], receipts[0])
		}
	}
	c.kill9(1)
	c.kill9(2)
	p := c.nodes[0]
	var code int
	var body string
	waitFor(t, "a write to be refused for lack of quorum", func() bool {
		var err error
		code, body, err = post(p.http, timing, "late-1", `{"athlete":"NOR-1","n":999,"ms":1}`)
		if err != nil {
			t.Fatalf("a write without quorum hung past the client's deadline: %v", err)
		}
		return code != 202
	})
	if code != 503 || !strings.Contains(body, "no quorum: 1 of 3 nodes reachable") {
		t.Fatalf("write without quorum: HTTP %d %s", code, body)
	}
	var prob map[string]any
	if json.Unmarshal([]byte(body), &prob) != nil || prob["status"] != 503.0 {
		t.Fatalf("not problem+json: %s", body)
	}
	// A batch waits on its acks itself; its 503 names the reason too.
	code, body, err := post(p.http, timing, "late-batch", `[{"athlete":"NOR-1","n":997,"ms":1},{"athlete":"NOR-2","n":998,"ms":1}]`)
	if err != nil {
		t.Fatalf("a batch without quorum hung past the client's deadline: %v", err)
	}
	if code != 503 || !strings.Contains(body, "no quorum: 1 of 3 nodes reachable") {
		t.Fatalf("batch without quorum: HTTP %d %s", code, body)
	}
	if m := scrape(t, p); !strings.Contains(m, "stadion_engine_quorum 0") || !strings.Contains(m, "stadion_engine_nodes_reachable 1") {
		t.Errorf("metrics without quorum lack stadion_engine_quorum 0 / nodes_reachable 1")
	}
	// A load balancer takes the node out of rotation once the quorum has
	// been gone longer than an election takes, and is told why.
	var ready string
	waitFor(t, "n1's /readyz to say it has no quorum", func() bool {
		var code int
		code, ready = getReadyz(p.http)
		return code == 503
	})
	if !strings.Contains(ready, "no quorum: 1 of 3 nodes reachable") || strings.Contains(ready, "(n1") {
		t.Fatalf("/readyz without quorum (reason wanted, node names not: it is open): %s", ready)
	}
	if got := len(p.readAll("laps", screens)); got < 20 {
		t.Fatalf("reads without quorum: %d events, want at least the 20 acknowledged", got)
	}
	c.start(1, 2)
	c.waitStreamsReplicated()
	waitFor(t, "n1 to be ready again with its peers back", func() bool {
		code, _ := getReadyz(p.http)
		return code == 200
	})
	events := c.nodes[2].readAll("laps", screens)
	seen := map[float64]bool{}
	for _, ev := range events {
		seen[ev["data"].(map[string]any)["n"].(float64)] = true
	}
	for n := range 20 {
		if !seen[float64(n)] {
			t.Fatalf("acknowledged event %d lost after the nodes returned", n)
		}
	}
}

// stop sends SIGTERM to node i and waits for it to exit (a rolling
// upgrade's graceful stop).
func (c *clusterRig) stop(i int) {
	c.mu.Lock()
	p := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		c.t.Fatalf("n%d did not stop within 60s of SIGTERM\n%s", i+1, p.stderr)
	}
}

// TestClusterRollingRestartLosesNoPublish: the three nodes are stopped and
// started again one by one while clients publish; a client that retries on
// another node sees every publish acknowledged, and every node serves each
// event once.
func TestClusterRollingRestartLosesNoPublish(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster of real processes")
	}
	c := startClusterProcs(t, 3)
	timing, screens := c.createKey(0, "timing"), c.createKey(0, "screens")
	var next, acked atomic.Int64
	var rolled atomic.Bool
	const atLeast, workers = 60, 4
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if rolled.Load() && next.Load() >= atLeast {
					return
				}
				n := int(next.Add(1) - 1)
				if _, err := c.publishRetrying(timing, n); err != nil {
					t.Errorf("a retrying client's publish failed: %v", err)
					return
				}
				acked.Add(1)
			}
		}()
	}
	for i := range c.nodes {
		c.stop(i)
		c.start(i)
		c.waitStreamsReplicated()
	}
	rolled.Store(true)
	wg.Wait()
	if t.Failed() {
		return
	}
	total := int(next.Load())
	if int(acked.Load()) != total {
		t.Fatalf("%d of %d publishes acknowledged", acked.Load(), total)
	}
	t.Logf("%d events published across the rolling restart", total)
	c.checkEvents(screens, total)
}

// follow reads GET /v1/topics/laps/stream as an EventSource does: after
// an error or the stream's end it reconnects, to the first live node of
// nodes, with Last-Event-ID, until stop closes. It sends each event's seq
// and n to out.
func (c *clusterRig) follow(key string, nodes []int, out chan<- [2]int, stop <-chan struct{}) {
	lastID := ""
	for {
		select {
		case <-stop:
			return
		default:
		}
		base := ""
		for _, i := range nodes {
			if base = c.url(i); base != "" {
				break
			}
		}
		if base != "" {
			lastID = sseRead(base, key, lastID, out, stop)
		}
		time.Sleep(250 * time.Millisecond) // EventSource's reconnection delay
	}
}

// sseRead reads one SSE connection until it ends and returns the last
// event id it saw (or lastID).
func sseRead(base, key, lastID string, out chan<- [2]int, stop <-chan struct{}) string {
	req, _ := http.NewRequest("GET", base+"/v1/topics/laps/stream?after_seq=0", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return lastID
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return lastID // 503 while the stream elects a leader: reconnect
	}
	go func() { <-stop; resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	id := lastID
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			var ev struct {
				Data struct {
					N int `json:"n"`
				} `json:"data"`
			}
			if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev) == nil {
				seq, _ := strconv.Atoi(id)
				select {
				case out <- [2]int{seq, ev.Data.N}:
				case <-stop:
					return id
				}
				lastID = id
			}
		}
	}
	return lastID
}

type pulled struct {
	Events []struct {
		AckID string          `json:"ack_id"`
		Event json.RawMessage `json:"event"`
	} `json:"events"`
}

// TestClusterSubscribersResumeOnAnotherNode: an SSE follower and a pull
// worker on a node that is kill -9ed go on from another node (Last-Event-ID;
// ack ids made by the dead node) and see every event exactly once.
func TestClusterSubscribersResumeOnAnotherNode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster of real processes")
	}
	const total = 200
	c := startClusterProcs(t, 3)
	timing, screens := c.createKey(0, "timing"), c.createKey(0, "screens")
	if code := c.nodes[0].request("PUT", "/v1/subscriptions/laps-work", screens, `{"topic":"laps","start":"earliest","ack_wait":"5m"}`, nil); code/100 != 2 {
		t.Fatalf("create subscription: %d", code)
	}
	for n := range total / 2 {
		if _, err := c.publishRetrying(timing, n); err != nil {
			t.Fatal(err)
		}
	}
	// The follower and the worker start on n1; the follower moves to n2
	// when n1 dies.
	events := make(chan [2]int, 4*total)
	stop := make(chan struct{})
	followed := make(chan struct{})
	go func() { c.follow(screens, []int{0, 1}, events, stop); close(followed) }()
	defer func() { close(stop); <-followed }()
	var got pulled
	if code := c.nodes[0].request("POST", "/v1/subscriptions/laps-work/pull", screens, `{"max":60,"wait":"5s"}`, &got); code != 200 || len(got.Events) == 0 {
		t.Fatalf("pull on n1: HTTP %d, %d events", code, len(got.Events))
	}
	seenSSE := map[int]bool{}
	take := func(ev [2]int) {
		if seenSSE[ev[1]] {
			t.Fatalf("SSE delivered n=%d twice", ev[1])
		}
		seenSSE[ev[1]] = true
	}
	for len(seenSSE) < total/4 {
		select {
		case ev := <-events:
			take(ev)
		case <-time.After(60 * time.Second):
			t.Fatal("the SSE follower got no events")
		}
	}
	c.kill9(0)
	// Both go on from n2, while the rest is published.
	n2 := c.nodes[1]
	var ids []string
	worked := map[int]int{}
	record := func(p pulled) {
		for _, e := range p.Events {
			var ev struct {
				Data struct {
					N int `json:"n"`
				} `json:"data"`
			}
			if err := json.Unmarshal(e.Event, &ev); err != nil {
				t.Fatal(err)
			}
			worked[ev.Data.N]++
			ids = append(ids, e.AckID)
		}
	}
	record(got)
	for n := total / 2; n < total; n++ {
		if _, err := c.publishRetrying(timing, n); err != nil {
			t.Fatal(err)
		}
	}
	// The ack ids n1 handed out are acknowledged through n2; a 503 while
	// the consumer elects a new leader is retried, as a worker would.
	ackAll := func() {
		body, _ := json.Marshal(map[string][]string{"ack_ids": ids})
		var prob map[string]any
		waitFor(t, "the acks to be taken", func() bool {
			code := n2.request("POST", "/v1/subscriptions/laps-work/ack", screens, string(body), &prob)
			if code != 503 && code/100 != 2 {
				t.Fatalf("ack on n2: HTTP %d %v", code, prob)
			}
			return code/100 == 2
		})
		ids = nil
	}
	ackAll()
	waitFor(t, "the worker to have every event", func() bool {
		var p pulled
		if code := n2.request("POST", "/v1/subscriptions/laps-work/pull", screens, `{"max":100,"wait":"1s"}`, &p); code != 200 {
			t.Fatalf("pull on n2: HTTP %d", code)
		}
		record(p)
		ackAll()
		return len(worked) == total
	})
	for n, k := range worked {
		if k != 1 {
			t.Fatalf("the worker got n=%d %d times", n, k)
		}
	}
	waitFor(t, "the follower to have every event", func() bool {
		select {
		case ev := <-events:
			take(ev)
		default:
		}
		return len(seenSSE) == total
	})
}

// scrape reads a node's /metrics with its admin key.
func scrape(t *testing.T, p *proc) string {
	req, _ := http.NewRequest("GET", p.http+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+p.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}

// getReadyz reads a node's /readyz as a load balancer does, with no key.
func getReadyz(base string) (int, string) {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(base + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(raw)
}
