package exchange

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func (h *harness) putSub(key, name, body string) reply {
	h.t.Helper()
	return h.do("PUT", "/v1/subscriptions/"+name, key, []byte(body), "Content-Type", "application/json")
}

func (h *harness) mustPutSub(key, name, body string) Subscription {
	h.t.Helper()
	r := h.putSub(key, name, body)
	if r.status != http.StatusCreated {
		h.t.Fatalf("PUT subscription %s: %d %s", name, r.status, r.body)
	}
	var s Subscription
	r.decode(h.t, &s)
	return s
}

// delivered is a Delivery with its event parsed.
type delivered struct {
	Delivery
	ev gotEvent
}

// tryPull pulls once; safe from any goroutine.
func (h *harness) tryPull(key, name string, max int, wait string) ([]delivered, error) {
	body := fmt.Sprintf(`{"max":%d,"wait":%q}`, max, wait)
	r, err := h.try(context.Background(), "POST", "/v1/subscriptions/"+name+"/pull", key, []byte(body), "Content-Type", "application/json")
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, fmt.Errorf("pull %s: %d %s", name, r.status, r.body)
	}
	var out struct{ Events []Delivery }
	if err := json.Unmarshal(r.body, &out); err != nil {
		return nil, err
	}
	ds := make([]delivered, len(out.Events))
	for i, d := range out.Events {
		ds[i].Delivery = d
		if err := json.Unmarshal(d.Event, &ds[i].ev); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

func (h *harness) pull(key, name string, max int, wait string) []delivered {
	h.t.Helper()
	ds, err := h.tryPull(key, name, max, wait)
	if err != nil {
		h.t.Fatal(err)
	}
	return ds
}

// pullN pulls until it has n deliveries, failing after a deadline. A pull
// with a wait returns as soon as its batch is full.
func (h *harness) pullN(key, name string, n int) []delivered {
	h.t.Helper()
	var out []delivered
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n {
		if time.Now().After(deadline) {
			h.t.Fatalf("pulled %d of %d events from %s", len(out), n, name)
		}
		out = append(out, h.pull(key, name, n-len(out), "2s")...)
	}
	return out
}

func deliveredSeqs(ds []delivered) []uint64 {
	out := make([]uint64, len(ds))
	for i, d := range ds {
		out[i] = d.ev.Seq
	}
	return out
}

func ackIDs(ds ...delivered) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.AckID
	}
	return out
}

func (h *harness) settle(key, name, verb string, ids []string, delay string) reply {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"ack_ids": ids, "delay": delay})
	return h.do("POST", "/v1/subscriptions/"+name+"/"+verb, key, body, "Content-Type", "application/json")
}

func (h *harness) mustSettle(key, name, verb string, ids []string, delay string) {
	h.t.Helper()
	if r := h.settle(key, name, verb, ids, delay); r.status != http.StatusOK {
		h.t.Fatalf("%s: %d %s", verb, r.status, r.body)
	}
}

func (h *harness) subStatus(key, name string) SubscriptionStatus {
	h.t.Helper()
	r := h.do("GET", "/v1/subscriptions/"+name, key, nil)
	if r.status != http.StatusOK {
		h.t.Fatalf("GET subscription %s: %d %s", name, r.status, r.body)
	}
	var st SubscriptionStatus
	r.decode(h.t, &st)
	return st
}

func TestSubscriptionLifecycle(t *testing.T) {
	h := newHarness(t)
	sub, other := h.key("sub"), h.key("other")

	s := h.mustPutSub(sub, "s1", `{"topic":"laps","start":"earliest"}`)
	if s.Name != "s1" || s.Topic != "laps" || s.Start != "earliest" || s.AckWait != "30s" || s.Owner != "sub" || s.Created.IsZero() {
		t.Errorf("created %+v", s)
	}
	r := h.putSub(sub, "s1", `{"topic":"laps","start":"latest","ack_wait":"5s"}`)
	if r.status != http.StatusOK {
		t.Fatalf("repeat PUT: %d %s", r.status, r.body)
	}
	var again Subscription
	r.decode(t, &again)
	if !again.Created.Equal(s.Created) || again.Start != "earliest" || again.AckWait != "5s" {
		t.Errorf("repeat PUT: %+v (created %v, start earliest, ack_wait 5s expected)", again, s.Created)
	}
	problem(t, h.putSub(sub, "s1", `{"topic":"roster"}`), http.StatusConflict, "/v1/subscriptions/s1")

	if st := h.subStatus(sub, "s1"); st.Name != "s1" || st.Owner != "sub" {
		t.Errorf("status %+v", st)
	}
	var list struct{ Subscriptions []SubscriptionStatus }
	h.do("GET", "/v1/subscriptions", sub, nil).decode(t, &list)
	if len(list.Subscriptions) != 1 || list.Subscriptions[0].Name != "s1" {
		t.Errorf("sub lists %+v", list.Subscriptions)
	}
	h.do("GET", "/v1/subscriptions", other, nil).decode(t, &list)
	if len(list.Subscriptions) != 0 {
		t.Errorf("other lists %+v", list.Subscriptions)
	}

	t.Run("another client", func(t *testing.T) {
		h := h.as(t)
		for _, tc := range []struct{ method, path, body string }{
			{"GET", "/v1/subscriptions/s1", ""},
			{"POST", "/v1/subscriptions/s1/pull", `{}`},
			{"POST", "/v1/subscriptions/s1/ack", `{"ack_ids":["x"]}`},
			{"POST", "/v1/subscriptions/s1/nack", `{"ack_ids":["x"]}`},
			{"DELETE", "/v1/subscriptions/s1", ""},
			{"PUT", "/v1/subscriptions/s1", `{"topic":"laps"}`},
		} {
			r := h.do(tc.method, tc.path, other, []byte(tc.body), "Content-Type", "application/json")
			problem(t, r, http.StatusForbidden, tc.path)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		h := h.as(t)
		for name, body := range map[string]string{
			"unknown topic":  `{"topic":"nope"}`,
			"bad start":      `{"topic":"laps","start":"yesterday"}`,
			"seq zero":       `{"topic":"laps","start":"seq:0"}`,
			"bad time":       `{"topic":"laps","start":"time:noon"}`,
			"short ack_wait": `{"topic":"laps","ack_wait":"10ms"}`,
			"unknown field":  `{"topic":"laps","filter":"x"}`,
			"malformed":      `{"topic":`,
		} {
			t.Run(name, func(t *testing.T) {
				h := h.as(t)
				problem(t, h.putSub(sub, "s2", body), http.StatusBadRequest, "/v1/subscriptions/s2")
			})
		}
		problem(t, h.putSub(sub, "Bad.Name", `{"topic":"laps"}`), http.StatusBadRequest, "/v1/subscriptions/Bad.Name")
		problem(t, h.do("PUT", "/v1/subscriptions/s2", sub, []byte(`{"topic":"laps"}`), "Content-Type", "text/plain"),
			http.StatusUnsupportedMediaType, "/v1/subscriptions/s2")
		problem(t, h.do("POST", "/v1/subscriptions/s1/pull", sub, []byte(`{"max":0}`)), http.StatusBadRequest, "/v1/subscriptions/s1/pull")
		problem(t, h.do("POST", "/v1/subscriptions/s1/pull", sub, []byte(`{"wait":"2m"}`)), http.StatusBadRequest, "/v1/subscriptions/s1/pull")
		problem(t, h.do("GET", "/v1/subscriptions/s2", sub, nil), http.StatusNotFound, "/v1/subscriptions/s2")
	})

	t.Run("admin update keeps the owner", func(t *testing.T) {
		h := h.as(t)
		r := h.putSub(h.admin, "s1", `{"topic":"laps","ack_wait":"10s"}`)
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if st := h.subStatus(sub, "s1"); st.Owner != "sub" || st.AckWait != "10s" {
			t.Errorf("after the admin's update: %+v", st)
		}
	})

	if r := h.do("DELETE", "/v1/subscriptions/s1", sub, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	problem(t, h.do("GET", "/v1/subscriptions/s1", sub, nil), http.StatusNotFound, "/v1/subscriptions/s1")
	problem(t, h.do("POST", "/v1/subscriptions/s1/pull", sub, []byte(`{}`)), http.StatusNotFound, "/v1/subscriptions/s1/pull")
	problem(t, h.do("DELETE", "/v1/subscriptions/s1", sub, nil), http.StatusNotFound, "/v1/subscriptions/s1")
	// The name can be reused, even for another topic.
	h.mustPutSub(sub, "s1", `{"topic":"roster"}`)
}

func TestSubscriptionStart(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	publishLaps(h, pub, 3)
	ev2 := h.read(sub, "laps", "after_seq=1&limit=1").events[0]

	starts := map[string][]uint64{
		"earliest": {1, 2, 3, 4},
		"latest":   {4},
		"seq:2":    {2, 3, 4},
		"time:" + ev2.Time.Format(time.RFC3339Nano): {2, 3, 4},
	}
	names := map[string]string{}
	i := 0
	for start := range starts {
		i++
		names[start] = fmt.Sprintf("start-%d", i)
		h.mustPutSub(sub, names[start], fmt.Sprintf(`{"topic":"laps","start":%q}`, start))
	}
	publishLaps(h, pub, 1) // seq 4
	for start, want := range starts {
		t.Run(start, func(t *testing.T) {
			h := h.as(t)
			got := deliveredSeqs(h.pullN(sub, names[start], len(want)))
			if !slices.Equal(got, want) {
				t.Errorf("seqs %v, want %v", got, want)
			}
			if extra := h.pull(sub, names[start], 10, "0s"); len(extra) != 0 {
				t.Errorf("more events than expected: %v", deliveredSeqs(extra))
			}
		})
	}
}

func TestSubscriptionWorkersShare(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	const n = 30
	h.mustPutSub(sub, "shared", `{"topic":"laps","start":"earliest","ack_wait":"1m"}`)
	publishLaps(h, pub, n)

	var mu sync.Mutex
	got := map[string][]delivered{}
	total := 0
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, worker := range []string{"a", "b"} {
		wg.Go(func() {
			deadline := time.Now().Add(15 * time.Second)
			for time.Now().Before(deadline) {
				mu.Lock()
				done := total >= n
				mu.Unlock()
				if done {
					return
				}
				ds, err := h.tryPull(sub, "shared", 4, "100ms")
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				got[worker] = append(got[worker], ds...)
				total += len(ds)
				mu.Unlock()
			}
			errs <- fmt.Errorf("worker %s: deadline with %d of %d delivered", worker, total, n)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint64]string{}
	for worker, ds := range got {
		for _, d := range ds {
			if w, dup := seen[d.ev.Seq]; dup {
				t.Errorf("seq %d given to %s and %s while unacked", d.ev.Seq, w, worker)
			}
			seen[d.ev.Seq] = worker
			if d.Delivery.Delivery != 1 {
				t.Errorf("seq %d delivered %d times", d.ev.Seq, d.Delivery.Delivery)
			}
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct events delivered, want %d", len(seen), n)
	}
	if len(got["a"]) == 0 || len(got["b"]) == 0 {
		t.Logf("one worker got everything (a: %d, b: %d)", len(got["a"]), len(got["b"]))
	}
	if st := h.subStatus(sub, "shared"); st.AckPending != n || st.Pending != 0 {
		t.Errorf("before acks: %+v", st)
	}
	var all []delivered
	for _, ds := range got {
		all = append(all, ds...)
	}
	h.mustSettle(sub, "shared", "ack", ackIDs(all...), "")
	if st := h.subStatus(sub, "shared"); st.AckPending != 0 || st.Pending != 0 || st.AckFloor != n {
		t.Errorf("after acks: %+v", st)
	}
	if extra := h.pull(sub, "shared", 10, "0s"); len(extra) != 0 {
		t.Errorf("acked events delivered again: %v", deliveredSeqs(extra))
	}
}

func TestSubscriptionAckNack(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	h.mustPutSub(sub, "work", `{"topic":"laps","start":"earliest","ack_wait":"1m"}`)
	publishLaps(h, pub, 3)
	ds := h.pullN(sub, "work", 3)

	t.Run("ack removes", func(t *testing.T) {
		h := h.as(t)
		r := h.settle(sub, "work", "ack", ackIDs(ds[0]), "")
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"acked":1`) {
			t.Fatalf("ack: %d %s", r.status, r.body)
		}
		if st := h.subStatus(sub, "work"); st.AckPending != 2 || st.AckFloor != 1 {
			t.Errorf("after one ack: %+v", st)
		}
	})

	t.Run("nack redelivers", func(t *testing.T) {
		h := h.as(t)
		h.mustSettle(sub, "work", "nack", ackIDs(ds[1]), "")
		again := h.pullN(sub, "work", 1)[0]
		if again.ev.Seq != 2 || again.Delivery.Delivery != 2 {
			t.Errorf("after nack: seq %d delivery %d, want seq 2 delivery 2", again.ev.Seq, again.Delivery.Delivery)
		}
		h.mustSettle(sub, "work", "ack", ackIDs(again), "")
	})

	t.Run("nack with delay redelivers later", func(t *testing.T) {
		h := h.as(t)
		const delay = 1500 * time.Millisecond
		nacked := time.Now()
		h.mustSettle(sub, "work", "nack", ackIDs(ds[2]), delay.String())
		var again delivered
		eventually(t, 15*time.Second, "redelivery after a delayed nack", func() bool {
			got := h.pull(sub, "work", 1, "1s")
			if len(got) == 0 {
				return false
			}
			again = got[0]
			return true
		})
		if elapsed := time.Since(nacked); elapsed < delay-50*time.Millisecond {
			t.Errorf("redelivered after %s, before the delay of %s", elapsed, delay)
		}
		if again.ev.Seq != 3 || again.Delivery.Delivery != 2 {
			t.Errorf("seq %d delivery %d, want seq 3 delivery 2", again.ev.Seq, again.Delivery.Delivery)
		}
		h.mustSettle(sub, "work", "ack", ackIDs(again), "")
		if st := h.subStatus(sub, "work"); st.AckPending != 0 || st.AckFloor != 3 {
			t.Errorf("after all acks: %+v", st)
		}
	})

	t.Run("bad settle requests", func(t *testing.T) {
		h := h.as(t)
		for name, tc := range map[string]struct{ verb, body string }{
			"no ids":        {"ack", `{"ack_ids":[]}`},
			"delay on ack":  {"ack", `{"ack_ids":["x"],"delay":"1s"}`},
			"bad delay":     {"nack", `{"ack_ids":["x"],"delay":"soon"}`},
			"delay too big": {"nack", `{"ack_ids":["x"],"delay":"48h"}`},
			"unknown field": {"ack", `{"ids":["x"]}`},
		} {
			t.Run(name, func(t *testing.T) {
				h := h.as(t)
				path := "/v1/subscriptions/work/" + tc.verb
				problem(t, h.do("POST", path, sub, []byte(tc.body)), http.StatusBadRequest, path)
			})
		}
	})
}

func TestSubscriptionAckWait(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	h.mustPutSub(sub, "slow", `{"topic":"laps","start":"earliest","ack_wait":"1s"}`)
	publishLaps(h, pub, 1)
	pulled := time.Now() // before the delivery, so before its ack timer starts
	first := h.pullN(sub, "slow", 1)[0]
	var again delivered
	eventually(t, 15*time.Second, "redelivery after ack_wait", func() bool {
		got := h.pull(sub, "slow", 1, "500ms")
		if len(got) == 0 {
			return false
		}
		again = got[0]
		return true
	})
	// A lower bound, not a speed: the event must wait out its ack_wait (the
	// 50ms allow for the engine's timer granularity).
	if elapsed := time.Since(pulled); elapsed < time.Second-50*time.Millisecond {
		t.Errorf("redelivered %s after the pull, before ack_wait 1s", elapsed)
	}
	if again.ev.Seq != first.ev.Seq || again.ev.ID != first.ev.ID || again.Delivery.Delivery != 2 {
		t.Errorf("redelivered seq %d delivery %d, want seq %d delivery 2", again.ev.Seq, again.Delivery.Delivery, first.ev.Seq)
	}
	if again.AckID == first.AckID {
		t.Error("a redelivery has the first delivery's ack id")
	}
	h.mustSettle(sub, "slow", "ack", ackIDs(again), "")
	if st := h.subStatus(sub, "slow"); st.AckPending != 0 || st.AckFloor != 1 {
		t.Errorf("after ack: %+v", st)
	}
}

func TestSubscriptionForgedAckID(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	h.mustPutSub(sub, "mine", `{"topic":"laps","start":"earliest","ack_wait":"1m"}`)
	h.mustPutSub(sub, "theirs", `{"topic":"laps","start":"earliest","ack_wait":"1m"}`)
	h.mustPutSub(sub, "roster-sub", `{"topic":"roster","start":"earliest","ack_wait":"1m"}`)
	publishLaps(h, pub, 2)
	h.mustPublish(pub, "roster", `{"id":"r"}`)
	mine := h.pullN(sub, "mine", 2)
	theirs := h.pullN(sub, "theirs", 1)
	rosters := h.pullN(sub, "roster-sub", 1)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

	for name, id := range map[string]string{
		"another subscription's":   theirs[0].AckID,
		"another topic's":          rosters[0].AckID,
		"random subject":           enc("foo.bar"),
		"engine API subject":       enc("$JS.API.STREAM.DELETE.TOPIC_laps"),
		"wildcard":                 enc("$JS.ACK.TOPIC_laps.mine.>"),
		"mine with a space":        enc("$JS.ACK.TOPIC_laps.mine.1 2.1.1.1.1"),
		"ack subject with letters": enc("$JS.ACK.TOPIC_laps.mine.a.1.1.1.1"),
		"not base64":               "!!not-base64!!",
		"empty":                    "",
	} {
		t.Run(name, func(t *testing.T) {
			h := h.as(t)
			for _, verb := range []string{"ack", "nack"} {
				path := "/v1/subscriptions/mine/" + verb
				// A valid id next to the forged one: all-or-nothing.
				r := h.settle(sub, "mine", verb, []string{mine[0].AckID, id}, "")
				p := problem(t, r, http.StatusBadRequest, path)
				checkFieldErrors(t, p, [][2]string{{"/ack_ids/1", "not an ack id of this subscription"}})
			}
		})
	}
	// Nothing was settled by the refused requests, and the stream is there.
	if st := h.subStatus(sub, "mine"); st.AckPending != 2 || st.AckFloor != 0 {
		t.Errorf("mine after forged acks: %+v", st)
	}
	if st := h.subStatus(sub, "theirs"); st.AckPending != 1 {
		t.Errorf("theirs after forged acks: %+v", st)
	}
	if n := h.stored("laps"); n != 2 {
		t.Errorf("laps holds %d events", n)
	}
	// The real ids work.
	h.mustSettle(sub, "mine", "ack", ackIDs(mine...), "")
	if st := h.subStatus(sub, "mine"); st.AckPending != 0 {
		t.Errorf("mine after acks: %+v", st)
	}
}
