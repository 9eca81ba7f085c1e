package exchange

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
)

// Topic streams take engine atomic batches (for the group commit), which
// the engine caps at 50 open per stream. A publisher holding a key tries,
// over plain NATS, to open batches into a topic (to fill that cap and
// stall everyone's writes, or to slip events past the schema): its
// publishes are refused by its permissions, nothing is stored, and the
// exchange's own concurrent writes still share their batches.
func TestPlainNATSCannotOpenAtomicBatches(t *testing.T) {
	h := newHarness(t)
	pub := h.key("pub")
	nc, _, errs := h.natsClient(pub)
	subject := "topic.laps.NOR-1"
	for b := range 60 {
		m := nats.NewMsg(subject)
		m.Data = []byte(`{"athlete":"NOR-1","n":-1,"ms":"not a number"}`)
		m.Header.Set(hdrBatchID, "attack"+strconv.Itoa(b))
		m.Header.Set(hdrBatchSeq, "1")
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	m := nats.NewMsg(subject)
	m.Data = []byte(`{}`)
	m.Header.Set(hdrBatchID, "attack0")
	m.Header.Set(hdrBatchSeq, "2")
	m.Header.Set(hdrBatchCommit, "1")
	if _, err := nc.RequestMsg(m, 2e9); err == nil {
		t.Error("the engine answered a client's batch commit")
	}
	errs.expectViolation(t, subject)

	info, err := h.eng.JS.Stream(testCtx(t), StreamName("laps"))
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Msgs; n != 0 {
		t.Fatalf("the topic holds %d events after the attack", n)
	}
	// The exchange's own writes, many at once, are still stored.
	type result struct {
		r   reply
		err error
	}
	done := make(chan result, 32)
	for i := range cap(done) {
		go func() {
			body := fmt.Sprintf(`{"athlete":"NOR-%d","n":1,"ms":1000}`, i)
			r, err := h.try(context.Background(), "POST", "/v1/topics/laps/events", pub, []byte(body), "Content-Type", "application/json")
			done <- result{r, err}
		}()
	}
	seen := map[uint64]bool{}
	for range cap(done) {
		res := <-done
		if res.err != nil || res.r.status != http.StatusAccepted {
			t.Fatalf("publish: %v %d %s", res.err, res.r.status, res.r.body)
		}
		var rc Receipt
		res.r.decode(t, &rc)
		if rc.Seq == 0 || seen[rc.Seq] {
			t.Fatalf("seq %d acknowledged twice or zero", rc.Seq)
		}
		seen[rc.Seq] = true
	}
	if got := info.CachedInfo().Config.AllowAtomicPublish; !got {
		t.Error("the topic stream does not take atomic batches: the group commit is off")
	}
}
