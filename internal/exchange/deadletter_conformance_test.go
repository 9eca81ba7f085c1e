package exchange

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/deadletter/deadlettertest"
)

// TestSubscriptionDeadLetterConformance runs the dead-letter owners'
// suite against a pull subscription through its HTTP API: events nacked
// at their only attempt are dead letters; redrive hands them to the
// subscription again, pulled and acked here.
func TestSubscriptionDeadLetterConformance(t *testing.T) {
	deadlettertest.Run(t, func(t *testing.T) deadlettertest.Owner {
		h := newHarness(t)
		o := &subOwner{h: h, pub: h.key("pub"), sub: h.key("sub")}
		h.mustPutSub(o.sub, "conf", `{"topic":"laps","start":"latest","ack_wait":"1s","retry":{"schedule":["1s"],"max_attempts":1}}`)
		return o
	})
}

type subOwner struct {
	h        *harness
	pub, sub string
	n        int
	received []uint64
}

func (o *subOwner) Fail(t *testing.T, n int) []uint64 {
	h := o.h.as(t)
	before := len(o.List(t, 0, 1000))
	var seqs []uint64
	for range n {
		o.n++
		seqs = append(seqs, h.mustPublish(o.pub, "laps", fmt.Sprintf(`{"athlete":"CNF-%d","n":%d,"ms":1}`, o.n, o.n)).Seq)
	}
	for _, d := range h.pullN(o.sub, "conf", n) {
		body, _ := json.Marshal(map[string]any{"ack_ids": []string{d.AckID}, "error": "rejected"})
		if r := h.do("POST", "/v1/subscriptions/conf/nack", o.sub, body, "Content-Type", "application/json"); r.status != http.StatusOK {
			t.Fatalf("nack: %d %s", r.status, r.body)
		}
	}
	eventually(t, 30*time.Second, fmt.Sprintf("%d dead letters", before+n), func() bool { return len(o.List(t, 0, 1000)) == before+n })
	return seqs
}

func (o *subOwner) List(t *testing.T, after uint64, limit int) []deadlettertest.Letter {
	h := o.h.as(t)
	r := h.do("GET", fmt.Sprintf("/v1/subscriptions/conf/dead-letters?after=%d&limit=%d", after, limit), o.sub, nil)
	if r.status != http.StatusOK {
		t.Fatalf("dead letters: %d %s", r.status, r.body)
	}
	var out struct {
		DeadLetters []DeadLetter `json:"dead_letters"`
	}
	r.decode(t, &out)
	ls := make([]deadlettertest.Letter, len(out.DeadLetters))
	for i, dl := range out.DeadLetters {
		ls[i] = deadlettertest.Letter{ID: dl.ID, Seq: dl.Seq}
	}
	return ls
}

func (o *subOwner) Heal(*testing.T) {}

func (o *subOwner) ids(ids []uint64) []byte {
	body, _ := json.Marshal(map[string]any{"ids": ids})
	return body
}

func (o *subOwner) Redrive(t *testing.T, ids []uint64) int {
	r := o.h.as(t).do("POST", "/v1/subscriptions/conf/dead-letters/redrive", o.sub, o.ids(ids), "Content-Type", "application/json")
	var out struct{ Redriven int }
	if r.status != http.StatusOK {
		t.Fatalf("redrive: %d %s", r.status, r.body)
	}
	r.decode(t, &out)
	return out.Redriven
}

func (o *subOwner) Drop(t *testing.T, ids []uint64) int {
	r := o.h.as(t).do("DELETE", "/v1/subscriptions/conf/dead-letters", o.sub, o.ids(ids), "Content-Type", "application/json")
	var out struct{ Deleted int }
	if r.status != http.StatusOK {
		t.Fatalf("drop: %d %s", r.status, r.body)
	}
	r.decode(t, &out)
	return out.Deleted
}

// Received pulls (and acks) what redrive handed the subscription until a
// pull comes back empty.
func (o *subOwner) Received(t *testing.T) []uint64 {
	h := o.h.as(t)
	for {
		got := h.pull(o.sub, "conf", 100, "1s")
		if len(got) == 0 {
			return append([]uint64(nil), o.received...)
		}
		for _, d := range got {
			o.received = append(o.received, d.ev.Seq)
		}
		h.mustSettle(o.sub, "conf", "ack", ackIDs(got...), "")
	}
}
