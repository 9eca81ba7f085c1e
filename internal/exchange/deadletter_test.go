package exchange

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func (h *harness) deadLettersOf(key, name string) []DeadLetter {
	h.t.Helper()
	r := h.do("GET", "/v1/subscriptions/"+name+"/dead-letters", key, nil)
	if r.status != http.StatusOK {
		h.t.Fatalf("dead letters of %s: %d %s", name, r.status, r.body)
	}
	var out struct {
		DeadLetters []DeadLetter `json:"dead_letters"`
	}
	r.decode(h.t, &out)
	return out.DeadLetters
}

// pullUntilDead pulls (nacking with msg whatever comes) until name has
// want dead letters; it fails if it is handed an event after its last
// attempt.
func (h *harness) pullUntilDead(key, name string, want, maxAttempts int, msg string) []DeadLetter {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if dls := h.deadLettersOf(key, name); len(dls) >= want {
			return dls
		}
		for _, d := range h.pull(key, name, 10, "1s") {
			if d.Delivery.Delivery > uint64(maxAttempts) {
				h.t.Fatalf("seq %d handed out for attempt %d of %d", d.ev.Seq, d.Delivery.Delivery, maxAttempts)
			}
			if msg != "" {
				body, _ := json.Marshal(map[string]any{"ack_ids": []string{d.AckID}, "error": msg})
				if r := h.do("POST", "/v1/subscriptions/"+name+"/nack", key, body, "Content-Type", "application/json"); r.status != http.StatusOK {
					h.t.Fatalf("nack: %d %s", r.status, r.body)
				}
			}
		}
	}
	h.t.Fatalf("%s: fewer than %d dead letters after 20s", name, want)
	return nil
}

func TestRetryPolicyDefaults(t *testing.T) {
	p, err := parseRetry(nil)
	if err != nil || len(p.Schedule) != 16 || p.MaxAttempts != 17 || p.Schedule[15] != "2h0m0s" {
		t.Fatalf("default %+v %v", p, err)
	}
	if d := p.delay(1); d != 10*time.Second {
		t.Errorf("delay after attempt 1 = %s", d)
	}
	if d := p.delay(40); d != 2*time.Hour {
		t.Errorf("delay after attempt 40 = %s", d)
	}
	if bo := p.backOff(30 * time.Second); len(bo) != 16 || bo[0] != 40*time.Second {
		t.Errorf("backoff %v", bo)
	}
	short, _ := parseRetry(&RetryPolicy{Schedule: []string{"1s", "1s", "1s"}, MaxAttempts: 2})
	if bo := short.backOff(time.Second); len(bo) != 2 {
		t.Errorf("backoff longer than the attempts: %v", bo)
	}
	for _, bad := range []RetryPolicy{
		{Schedule: []string{}}, {Schedule: []string{"10ms"}}, {Schedule: []string{"25h"}},
		{Schedule: []string{"x"}}, {MaxAttempts: -1}, {MaxAttempts: 1001},
	} {
		if _, err := parseRetry(&bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

func TestSubscriptionDeadLetters(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	s := h.mustPutSub(sub, "dl", `{"topic":"laps","start":"earliest","ack_wait":"1s","retry":{"schedule":["1s","1s"],"max_attempts":3}}`)
	if s.Retry.MaxAttempts != 3 || len(s.Retry.Schedule) != 2 {
		t.Fatalf("retry %+v", s.Retry)
	}
	bad := h.mustPublish(pub, "laps", `{"athlete":"BAD-1","n":1,"ms":1}`)

	dls := h.pullUntilDead(sub, "dl", 1, 3, "row rejected: boom")
	dl := dls[0]
	if dl.Seq != bad.Seq || dl.EventID != bad.ID || dl.Error != "row rejected: boom" || dl.Attempts != 3 ||
		dl.ID == 0 || dl.Topic != "laps" || dl.Subscription != "dl" || dl.FirstFailed.IsZero() || dl.LastFailed.Before(dl.FirstFailed) {
		t.Errorf("dead letter %+v", dl)
	}
	// Stored before let go: the consumer has given it up (the engine
	// leaves its ack floor below an event it gave up, so the floor is no
	// measure), and the DLQ holds it.
	st := h.subStatus(sub, "dl")
	if st.AckPending != 0 {
		t.Errorf("original still with the consumer: %+v", st)
	}

	// The rest flow on, and the dead event is not handed out again.
	good := h.mustPublish(pub, "laps", `{"athlete":"GOO-1","n":1,"ms":1}`)
	got := h.pullN(sub, "dl", 1)
	if got[0].ev.Seq != good.Seq {
		t.Fatalf("got seq %d, want %d", got[0].ev.Seq, good.Seq)
	}
	h.mustSettle(sub, "dl", "ack", ackIDs(got...), "")
	if more := h.pull(sub, "dl", 10, "3s"); len(more) != 0 {
		t.Fatalf("handed out again: %v", deliveredSeqs(more))
	}

	// Redrive brings it back exactly once, with its topic seq, fresh attempts.
	for range 2 { // the second redrive finds nothing left to redrive
		h.do("POST", "/v1/subscriptions/dl/dead-letters/redrive", sub, []byte(`{}`), "Content-Type", "application/json")
	}
	back := h.pullN(sub, "dl", 1)
	if back[0].ev.Seq != bad.Seq || back[0].ev.ID != bad.ID || back[0].Delivery.Delivery != 1 {
		t.Fatalf("redriven %+v", back[0])
	}
	h.mustSettle(sub, "dl", "ack", ackIDs(back...), "")
	if more := h.pull(sub, "dl", 10, "3s"); len(more) != 0 {
		t.Fatalf("redriven twice: %v", deliveredSeqs(more))
	}
	if left := h.deadLettersOf(sub, "dl"); len(left) != 0 {
		t.Fatalf("dead letters left after redrive: %+v", left)
	}

	// Timed out (never settled), then discarded.
	late := h.mustPublish(pub, "laps", `{"athlete":"LAT-1","n":1,"ms":1}`)
	dls = h.pullUntilDead(sub, "dl", 1, 3, "")
	if dls[0].Seq != late.Seq || dls[0].Error != "not acknowledged within ack_wait" || dls[0].Attempts != 3 {
		t.Errorf("timed-out dead letter %+v", dls[0])
	}
	r := h.do("DELETE", "/v1/subscriptions/dl/dead-letters", sub, []byte(fmt.Sprintf(`{"ids":[%d]}`, dls[0].ID)), "Content-Type", "application/json")
	if r.status != http.StatusOK || string(r.body) != `{"deleted":1}`+"\n" && string(r.body) != `{"deleted":1}` {
		t.Fatalf("discard: %d %s", r.status, r.body)
	}
	if left := h.deadLettersOf(sub, "dl"); len(left) != 0 {
		t.Fatalf("dead letters left after discard: %+v", left)
	}

	// Another client cannot see or redrive them.
	if r := h.do("GET", "/v1/subscriptions/dl/dead-letters", h.key("sub2"), nil); r.status != http.StatusForbidden {
		t.Errorf("other client: %d", r.status)
	}
}

// TestDeadLetterStoredBeforeTerm takes the dead-letter stream away: the
// given-up event cannot be stored, so its advisory must stay unhandled
// (the event is never in neither place), and it is dead-lettered once the
// stream is back, without any further pull.
func TestDeadLetterStoredBeforeTerm(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	body := `{"topic":"laps","start":"earliest","ack_wait":"1s","retry":{"schedule":["1s"],"max_attempts":1}}`
	h.mustPutSub(sub, "keep", body)
	ev := h.mustPublish(pub, "laps", `{"athlete":"KEE-1","n":1,"ms":1}`)
	first := h.pullN(sub, "keep", 1)
	if err := h.eng.JS.DeleteStream(context.Background(), DeadLetterStream("keep")); err != nil {
		t.Fatal(err)
	}
	h.mustSettle(sub, "keep", "nack", ackIDs(first...), "")

	eventually(t, 10*time.Second, "a failed dead-lettering", func() bool {
		return h.advisoryResults("retry") > 0
	})
	if n := h.advisoriesLeft(); n != 1 {
		t.Fatalf("%d advisories kept while the letter cannot be stored, want 1", n)
	}
	if r := h.putSub(sub, "keep", body); r.status != http.StatusOK { // re-creates the stream
		t.Fatalf("PUT again: %d %s", r.status, r.body)
	}
	var dls []DeadLetter
	eventually(t, 30*time.Second, "the dead letter once its stream is back", func() bool {
		dls = h.deadLettersOf(sub, "keep")
		return len(dls) == 1
	})
	if dls[0].Seq != ev.Seq {
		t.Fatalf("dead letter %+v", dls[0])
	}
	eventually(t, 10*time.Second, "the advisory handled", func() bool { return h.advisoriesLeft() == 0 })
}

// TestDeadLetterStoredOnceAcrossARetry: dead-lettering the same delivery
// twice (a node killed between storing the dead letter and terminating the
// event, which comes back to another node) stores one dead letter; once
// that one is discarded, the same event dead-lettered again is stored anew,
// never dropped as a duplicate of a copy that is gone.
func TestDeadLetterStoredOnceAcrossARetry(t *testing.T) {
	h := newHarness(t)
	sub := h.key("sub")
	h.mustPutSub(sub, "once", `{"topic":"laps","start":"earliest"}`)
	ctx := context.Background()
	md := &jetstream.MsgMetadata{Stream: StreamName("laps"), Sequence: jetstream.SequencePair{Stream: 7}}
	dl := DeadLetter{Subscription: "once", Topic: "laps", Seq: 7, Event: json.RawMessage(`{"id":"e7"}`), Error: "HTTP 500"}
	id := "dl:" + md.Stream + ":7"
	for range 2 {
		if _, err := h.x.dls.Put(ctx, "once", id, dl); err != nil {
			t.Fatal(err)
		}
	}
	dls := h.deadLettersOf(sub, "once")
	if len(dls) != 1 || dls[0].Seq != 7 {
		t.Fatalf("after the same dead letter twice: %+v, want one", dls)
	}
	if r := h.do("DELETE", "/v1/subscriptions/once/dead-letters", sub, []byte(fmt.Sprintf(`{"ids":[%d]}`, dls[0].ID)), "Content-Type", "application/json"); r.status != http.StatusOK {
		t.Fatalf("discard: %d %s", r.status, r.body)
	}
	if _, err := h.x.dls.Put(ctx, "once", id, dl); err != nil {
		t.Fatal(err)
	}
	if dls := h.deadLettersOf(sub, "once"); len(dls) != 1 || dls[0].Seq != 7 {
		t.Fatalf("dead-lettered again after a discard: %+v, want it stored", dls)
	}
}
