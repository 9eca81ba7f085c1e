package exchange

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/deadletter"
)

// TestDeadLetterWithoutPull: a pull subscription's event whose last
// attempt fails becomes a dead letter without anyone pulling again, both
// when the worker never settles it (ack timeout) and when it nacks it; and
// with two exchanges on one engine (two stadion processes), each event
// gives exactly one dead letter.
func TestDeadLetterWithoutPull(t *testing.T) {
	h := newHarness(t)
	h.replica(nil)
	pub, sub := h.key("pub"), h.key("sub")

	for _, tc := range []struct {
		name, nack, wantErr string
	}{
		{name: "timed-out", wantErr: "not acknowledged within ack_wait"},
		{name: "nacked", nack: "row rejected: no such athlete", wantErr: "row rejected: no such athlete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h.as(t)
			h.mustPutSub(sub, tc.name, `{"topic":"laps","start":"latest","ack_wait":"1s","retry":{"schedule":["1s"],"max_attempts":2}}`)
			ev := h.mustPublish(pub, "laps", `{"athlete":"DLQ-1","n":1,"ms":1}`)
			// Attempt 1 and 2 (the last) are handed out and never acked.
			for attempt := uint64(1); attempt <= 2; attempt++ {
				got := h.pullN(sub, tc.name, 1)
				if got[0].ev.Seq != ev.Seq || got[0].Delivery.Delivery != attempt {
					t.Fatalf("attempt %d: got seq %d delivery %d", attempt, got[0].ev.Seq, got[0].Delivery.Delivery)
				}
				if tc.nack != "" && attempt == 2 {
					body, _ := json.Marshal(map[string]any{"ack_ids": ackIDs(got...), "error": tc.nack})
					if r := h.do("POST", "/v1/subscriptions/"+tc.name+"/nack", sub, body, "Content-Type", "application/json"); r.status != http.StatusOK {
						t.Fatalf("nack: %d %s", r.status, r.body)
					}
				}
			}
			// No pull from here on: only reads of the dead letters.
			var dls []DeadLetter
			eventually(t, 30*time.Second, "the dead letter, with no further pull", func() bool {
				dls = h.deadLettersOf(sub, tc.name)
				return len(dls) > 0
			})
			eventually(t, 30*time.Second, "every advisory handled", func() bool { return h.advisoriesLeft() == 0 })
			if dls = h.deadLettersOf(sub, tc.name); len(dls) != 1 {
				t.Fatalf("%d dead letters from one event with two processes: %+v", len(dls), dls)
			}
			dl := dls[0]
			if dl.Seq != ev.Seq || dl.EventID != ev.ID || dl.Attempts != 2 || dl.Error != tc.wantErr || dl.Subscription != tc.name || len(dl.Event) == 0 {
				t.Errorf("dead letter %+v", dl)
			}
			if st := h.subStatus(sub, tc.name); st.AckPending != 0 || st.Pending != 0 {
				t.Errorf("event still with the consumer: %+v", st)
			}
		})
	}
}

// advisoriesLeft counts the max-deliveries advisories not yet handled.
func (h *harness) advisoriesLeft() uint64 {
	h.t.Helper()
	st, err := h.eng.JS.Stream(context.Background(), deadletter.AdvisoryStream)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return info.State.Msgs
}

// advisoryResults reads stadion_deadletter_advisories_total{result}.
func (h *harness) advisoryResults(result string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "stadion_deadletter_advisories_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// replica starts a second exchange on the harness's engine, as a second
// stadion process would run (prepare, if set, before its start), until
// the test ends.
func (h *harness) replica(prepare func(*Exchange)) *Exchange {
	h.t.Helper()
	x2, err := New(h.cfg, h.eng.Conn, h.eng.JS, h.keys, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		h.t.Fatal(err)
	}
	if prepare != nil {
		prepare(x2)
	}
	if err := x2.Start(h.t.Context()); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = x2.Stop(ctx)
	})
	return x2
}

// TestDeadLetterWhileAdvisoriesAreNotStored: the engine sends each
// max-deliveries advisory once, and a replicated advisory stream electing
// a leader (its node just died) stores nothing. Here the stream captures
// nothing at all while an event is given up: the letter still comes, from
// the advisory seen live, once.
func TestDeadLetterWhileAdvisoriesAreNotStored(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	ctx := context.Background()
	st, err := h.eng.JS.Stream(ctx, deadletter.AdvisoryStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	deaf := cfg
	deaf.Subjects = []string{"stadion.test.nothing"}
	if _, err := h.eng.JS.UpdateStream(ctx, deaf); err != nil {
		t.Fatal(err)
	}
	defer h.eng.JS.UpdateStream(ctx, cfg)

	h.mustPutSub(sub, "unstored", `{"topic":"laps","start":"latest","ack_wait":"1s","retry":{"schedule":["1s"],"max_attempts":2}}`)
	ev := h.mustPublish(pub, "laps", `{"athlete":"DLQ-2","n":1,"ms":1}`)
	for attempt := uint64(1); attempt <= 2; attempt++ {
		if got := h.pullN(sub, "unstored", 1); got[0].ev.Seq != ev.Seq || got[0].Delivery.Delivery != attempt {
			t.Fatalf("attempt %d: got seq %d delivery %d", attempt, got[0].ev.Seq, got[0].Delivery.Delivery)
		}
	}
	var dls []DeadLetter
	eventually(t, 30*time.Second, "the dead letter, with the advisory stream deaf", func() bool {
		dls = h.deadLettersOf(sub, "unstored")
		return len(dls) > 0
	})
	if len(dls) != 1 || dls[0].Seq != ev.Seq || dls[0].EventID != ev.ID || dls[0].Attempts != 2 {
		t.Fatalf("dead letters %+v", dls)
	}
	if h.advisoriesLeft() != 0 {
		t.Fatal("the deaf advisory stream stored an advisory: the test proves nothing")
	}
}
