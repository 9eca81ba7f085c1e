package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// killEvents is how many events TestClusterSurvivesKill9OfStreamLeader
// publishes: the 5,000, or STADION_CLUSTER_EVENTS.
func killEvents(t *testing.T) int {
	n := 5000
	if v := os.Getenv("STADION_CLUSTER_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 8 {
			t.Fatalf("STADION_CLUSTER_EVENTS=%q: want a number of events, at least 8", v)
		}
	}
	return n
}

// clusterKillTopic and clusterKillExtra add to clusterConfig what the kill
// test also checks survives: a topic whose webhook always fails, so dead
// letters accrue before and during the kill, and a live room's history.
const clusterKillTopic = `  falls:
    kind: realtime
    schema: schemas/lap.json
    key: /athlete
    publishers: [timing]
    subscribers: [screens]
`

const clusterKillExtra = `webhooks: {allow: ["127.0.0.1"]}
live:
  rooms: [final]
  history: 5000
  user_rate: "off"
  flood_users: 1000
`

// TestClusterSurvivesKill9OfStreamLeader: three nodes, R3. Concurrent
// clients publish with idempotency keys spread over the nodes while the
// leader of the topic's stream is kill -9ed and later restarted; failed
// requests are retried on another node with the same key. Afterwards every
// node serves exactly the events once each in one order, the keys and the
// subscription survived, the sink wrote exactly one row per event, every
// node lists the same dead letters (made before and during the kill, each
// event once) and the live room's history from before the kill. The
// survivors stay ready (/readyz 200) throughout: the elections that follow
// a kill are no reason for a load balancer to drop them.
//
// It publishes the 5,000 events from six clients: about 15 s of
// the test's 100-140 s on this 2-core machine, most of the rest being the
// cluster's start and the final checks (STADION_CLUSTER_EVENTS changes it).
func TestClusterSurvivesKill9OfStreamLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster of real processes")
	}
	total, workers := killEvents(t), 6
	const falls = 10 // dead letters made before the kill, and as many during it
	dir := t.TempDir()
	config := strings.Replace(fmt.Sprintf(clusterConfig, filepath.Join(dir, "laps.db")), "topics:\n", "topics:\n"+clusterKillTopic, 1) + clusterKillExtra
	c := startClusterRig(t, 3, dir, config, []string{"testdata/durable/schemas/lap.json"})
	timing, screens := c.createKey(0, "timing"), c.createKey(1, "screens")
	if code := c.nodes[2].request("PUT", "/v1/subscriptions/laps-all", screens, `{"topic":"laps","start":"earliest"}`, nil); code/100 != 2 {
		t.Fatalf("create subscription: %d", code)
	}
	hook := refusingHook(t)
	sub := fmt.Sprintf(`{"topic":"falls","start":"earliest","push":{"url":%q,"secret":%q,"timeout":"2s"},"retry":{"schedule":["1s"],"max_attempts":2}}`,
		hook.URL, "whsec_"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if code := c.nodes[0].request("PUT", "/v1/subscriptions/falls-hook", screens, sub, nil); code/100 != 2 {
		t.Fatalf("create push subscription: %d", code)
	}
	fan := c.nodes[0].viewerToken("fan1")
	for i := range 20 {
		c.postComment(i%3, fan, fmt.Sprintf("before-%d", i))
	}
	for n := range falls {
		if _, err := c.publishTopicRetrying("falls", timing, n); err != nil {
			t.Fatal(err)
		}
	}
	c.waitDeadLetters(screens, falls)

	victim := c.leaderOf("TOPIC_laps")
	t.Logf("killing n%d, the leader of TOPIC_laps; publishing %d events", victim+1, total)
	var restarted, during sync.WaitGroup
	var stopWatch func() []string
	began := time.Now()
	failed := c.publishAll(timing, total, workers, func(k int) {
		switch k {
		case total / 4:
			c.kill9(victim)
			stopWatch = c.watchReadiness(victim)
			during.Add(1)
			go func() {
				defer during.Done()
				for n := falls; n < 2*falls; n++ {
					if _, err := c.publishTopicRetrying("falls", timing, n); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		case total / 2:
			restarted.Add(1)
			go func() { defer restarted.Done(); c.start(victim) }()
		}
	})
	during.Wait()
	restarted.Wait()
	if stopWatch != nil {
		if bad := stopWatch(); len(bad) > 0 {
			t.Errorf("the survivors left rotation during a normal failover: /readyz answered %s", strings.Join(bad, "; "))
		}
	}
	t.Logf("%d events acknowledged in %s; %d failed attempts were retried on another node", total, time.Since(began).Round(time.Second), failed)
	if t.Failed() {
		return
	}
	c.waitStreamsReplicated()
	c.checkEvents(screens, total)
	// The keys made before the kill work on the restarted node too.
	var st struct {
		Pending uint64 `json:"pending"`
	}
	waitFor(t, fmt.Sprintf("the subscription, read on the restarted node, to have %d pending", total), func() bool {
		code := c.nodes[victim].request("GET", "/v1/subscriptions/laps-all", screens, "", &st)
		return code == 200 && st.Pending == uint64(total)
	})
	waitFor(t, fmt.Sprintf("the sink to hold %d rows", total), func() bool {
		return countRows(t, c.db, "") == total
	})
	c.waitDeadLetters(screens, 2*falls)
	for i := range c.nodes {
		seen := readRoom(t, c.nodes[i])
		for k := range 20 {
			if n := seen[fmt.Sprintf("before-%d", k)]; n != 1 {
				t.Fatalf("n%d's room history has before-%d %d times, want once", i+1, k, n)
			}
		}
	}
}

// refusingHook is a webhook receiver that answers every call 500, so a
// push subscription to it dead-letters each event.
func refusingHook(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "receiver down", http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// postComment posts a comment to room final through node i's HTTP API.
func (c *clusterRig) postComment(i int, token, text string) {
	c.t.Helper()
	p := c.nodes[i]
	if code := p.request("POST", "/v1/live/final/comments", token, fmt.Sprintf(`{"text":%q}`, text), nil); code != 201 {
		c.t.Fatalf("post %q on n%d: HTTP %d", text, i+1, code)
	}
}

type deadLetterRow struct {
	ID    uint64          `json:"id"`
	Seq   uint64          `json:"seq"`
	Error string          `json:"error"`
	Event json.RawMessage `json:"event"`
}

// waitDeadLetters polls until every node lists the dead letters of
// falls-hook for events n = 0..want-1, each once, the same list on every
// node, each with the receiver's error.
func (c *clusterRig) waitDeadLetters(key string, want int) {
	c.t.Helper()
	var last string
	check := func() bool {
		var first string
		for i := range c.nodes {
			var page struct {
				DeadLetters []deadLetterRow `json:"dead_letters"`
			}
			if code := c.nodes[i].request("GET", "/v1/subscriptions/falls-hook/dead-letters?limit=1000", key, "", &page); code != 200 {
				last = fmt.Sprintf("n%d: HTTP %d", i+1, code)
				return false
			}
			got := map[int]int{}
			var rows []string
			for _, dl := range page.DeadLetters {
				var ev struct {
					Data struct{ N int } `json:"data"`
				}
				if json.Unmarshal(dl.Event, &ev) != nil || !strings.Contains(dl.Error, "500") {
					c.t.Fatalf("n%d: dead letter %d: error %q, event %s", i+1, dl.ID, dl.Error, dl.Event)
				}
				got[ev.Data.N]++
				rows = append(rows, fmt.Sprint(dl.ID, ":", dl.Seq))
			}
			for n, k := range got {
				if k > 1 {
					c.t.Fatalf("n%d lists the dead letter of falls n=%d %d times", i+1, n, k)
				}
			}
			if len(got) != want || len(page.DeadLetters) != want {
				last = fmt.Sprintf("n%d lists %d dead letters", i+1, len(page.DeadLetters))
				return false
			}
			if list := strings.Join(rows, ","); first == "" {
				first = list
			} else if list != first {
				last = fmt.Sprintf("n%d lists %s, n1 %s", i+1, list, first)
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(3 * time.Minute); !check(); time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for every node to list the same %d dead letters: %s", want, last)
		}
	}
}

// watchReadiness polls /readyz of every node but skip, as a load balancer
// does, until the returned function is called; that returns every answer
// other than 200 it saw.
func (c *clusterRig) watchReadiness(skip int) func() []string {
	stop, done := make(chan struct{}), make(chan struct{})
	var bad []string
	go func() {
		defer close(done)
		for {
			for i := range c.data {
				if base := c.url(i); i != skip && base != "" {
					if code, body := getReadyz(base); code != 200 && code != 0 {
						bad = append(bad, fmt.Sprintf("n%d: %d %s", i+1, code, body))
					}
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return func() []string {
		close(stop)
		<-done
		return bad
	}
}
