package gate

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// decisionCount reads how many decisions of venue the cloud counted, and
// how many of them within bound seconds.
func decisionCount(t testing.TB, c *Cloud, venue string, bound float64) (total, within uint64) {
	t.Helper()
	var m dto.Metric
	if err := c.m.decision.WithLabelValues(venue).(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	h := m.GetHistogram()
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() <= bound {
			within = b.GetCumulativeCount()
		}
	}
	return h.GetSampleCount(), within
}

func TestLatencyBookCountsABatchOnce(t *testing.T) {
	b := newLatencyBook()
	now := time.Now()
	e := b.open(7)
	// The forwarder asks before the ledger has finished counting: it waits.
	got := make(chan string, 1)
	go func() { got <- b.header(7, 10*time.Second) }()
	b.close(7, e, []time.Time{now.Add(-300 * time.Microsecond), now.Add(-3 * time.Millisecond), {}, now.Add(-time.Minute)}, now, true)
	h := <-got
	c, ok := parseLatency(h, 4)
	if !ok {
		t.Fatalf("header %q does not parse", h)
	}
	if c[0] != 1 || c[bucketOf(0.003)] != 1 || c[len(decisionBuckets)] != 1 {
		t.Fatalf("counts %v: want one at 0.5ms, one at the 4ms bound, one beyond the last bound, none for the scan without a start", c)
	}
	if b.header(7, time.Millisecond) != h {
		t.Fatal("a batch sent again must carry the same counts")
	}
	b.forget(7)
	if h := b.header(7, time.Millisecond); h != "" {
		t.Fatalf("forgotten batch still has a header %q", h)
	}
	// A failed write leaves nothing to send.
	e = b.open(8)
	b.close(8, e, []time.Time{now}, now, false)
	if h := b.header(8, time.Millisecond); h != "" {
		t.Fatalf("a batch that was not stored has a header %q", h)
	}
	if b.header(99, time.Millisecond) != "" {
		t.Fatal("unknown batch has a header")
	}
}

func TestLatencyBookIsBounded(t *testing.T) {
	b := newLatencyBook()
	for seq := uint64(1); seq <= maxLatencyBatches+10; seq++ {
		b.close(seq, b.open(seq), []time.Time{time.Now()}, time.Now(), true)
	}
	if len(b.entries) != maxLatencyBatches || len(b.order) != maxLatencyBatches {
		t.Fatalf("book holds %d entries (%d in order), want %d", len(b.entries), len(b.order), maxLatencyBatches)
	}
	if b.header(1, time.Millisecond) != "" || b.header(maxLatencyBatches+10, time.Millisecond) == "" {
		t.Fatal("the oldest batches must be the ones forgotten")
	}
}

// TestParseLatencyRefusesWhatAnEdgeMaySendWrong: the header comes from an
// outside identity; only exactly one count per bucket, summing to at most
// the batch's scans, is taken.
func TestParseLatencyRefusesWhatAnEdgeMaySendWrong(t *testing.T) {
	good := "1,0,0,0,0,0,0,0,0,0,0,0,0,0,2"
	if _, ok := parseLatency(good, 3); !ok {
		t.Fatal("a well-formed header was refused")
	}
	for _, h := range []string{
		"",
		"1,2,3",
		good + ",0",
		"1,0,0,0,0,0,0,0,0,0,0,0,0,0,3",          // 4 scans counted in a batch of 3
		"-1,0,0,0,0,0,0,0,0,0,0,0,0,0,0",         // negative
		"4294967296,0,0,0,0,0,0,0,0,0,0,0,0,0,0", // beyond uint32
		"x,0,0,0,0,0,0,0,0,0,0,0,0,0,0",
	} {
		if _, ok := parseLatency(h, 3); ok {
			t.Errorf("parseLatency(%q) accepted", h)
		}
	}
}
