package gate

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Decision latency travels with the scans it measures. The edge measures
// each scan from its request to its stored decision; the cloud's
// gate_decision_latency SLO needs those figures, but a scan's record is
// written before its latency is known (the write is part of it). So the
// edge keeps, for each scan-log batch it has not forwarded yet, how many
// of its scans fell in each bucket of decisionBuckets, and sends them with
// the batch in latencyHeader; the cloud stores the header with the batch
// and counts it in stadion_gate_decision_seconds{venue} when it applies
// the batch to the venue's view, which happens once per batch across
// replicas. A batch stored before an edge restart, or forgotten past the
// book's bound, carries no header: its scans count in no SLO.

// decisionBuckets are the bounds, in seconds, of both decision histograms.
var decisionBuckets = prometheus.ExponentialBuckets(0.0005, 2, 14)

// latencyHeader carries a forwarded batch's latency counts: one count per
// bound of decisionBuckets (scans above the previous bound and at most
// this one), then the scans above the last bound.
const latencyHeader = "Stadion-Decision-Latency"

// maxLatencyBatches bounds the batches the book remembers; an edge cut
// off from the cloud for long forgets the oldest.
const maxLatencyBatches = 4096

type latencyCounts [15]uint32 // len(decisionBuckets)+1

// latencyEntry is one batch's counts; done is closed once they are final.
type latencyEntry struct {
	counts latencyCounts
	done   chan struct{}
}

// latencyBook holds the counts of the batches not yet forwarded (edge
// side). The ledger opens an entry before it writes a batch and closes it
// right after the write, so the forwarder, which may see the batch stored
// before the ledger has counted it, waits for the final counts.
type latencyBook struct {
	mu      sync.Mutex
	entries map[uint64]*latencyEntry
	order   []uint64 // seqs in the order opened, for the bound
}

func newLatencyBook() *latencyBook { return &latencyBook{entries: map[uint64]*latencyEntry{}} }

// open starts the entry of the batch to be stored as seq.
func (b *latencyBook) open(seq uint64) *latencyEntry {
	e := &latencyEntry{done: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old := b.entries[seq]; old != nil {
		closeOnce(old)
	}
	b.entries[seq] = e
	b.order = append(b.order, seq)
	for len(b.order) > maxLatencyBatches {
		if old := b.entries[b.order[0]]; old != nil {
			closeOnce(old)
			delete(b.entries, b.order[0])
		}
		b.order = b.order[1:]
	}
	return e
}

func closeOnce(e *latencyEntry) {
	select {
	case <-e.done:
	default:
		close(e.done)
	}
}

// close makes e's counts final: the scans started at starts were stored
// at now. stored false drops the entry (the write failed).
func (b *latencyBook) close(seq uint64, e *latencyEntry, starts []time.Time, now time.Time, stored bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if stored {
		for _, s := range starts {
			if !s.IsZero() {
				e.counts[bucketOf(now.Sub(s).Seconds())]++
			}
		}
	} else if b.entries[seq] == e {
		delete(b.entries, seq)
	}
	closeOnce(e)
}

// header returns the encoded counts of batch seq, waiting up to wait for
// the ledger to finish counting it; "" when the book does not hold it.
// The entry is kept until forget, since a batch may be sent again.
func (b *latencyBook) header(seq uint64, wait time.Duration) string {
	b.mu.Lock()
	e := b.entries[seq]
	b.mu.Unlock()
	if e == nil {
		return ""
	}
	select {
	case <-e.done:
	case <-time.After(wait):
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.entries[seq] != e {
		return ""
	}
	return encodeLatency(e.counts)
}

// forget drops the entries up to and including seq (forwarded).
func (b *latencyBook) forget(seq uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	kept := b.order[:0]
	for _, s := range b.order {
		if s <= seq {
			delete(b.entries, s)
			continue
		}
		kept = append(kept, s)
	}
	b.order = kept
}

func bucketOf(seconds float64) int {
	for i, ub := range decisionBuckets {
		if seconds <= ub {
			return i
		}
	}
	return len(decisionBuckets)
}

func encodeLatency(c latencyCounts) string {
	var sb strings.Builder
	for i, n := range c {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatUint(uint64(n), 10))
	}
	return sb.String()
}

// parseLatency reads a batch's latency header as an edge sent it: exactly
// one count per bucket, counting at most scans scans. An edge is an
// outside identity, so anything else is ignored (ok false).
func parseLatency(h string, scans int) (c latencyCounts, ok bool) {
	if h == "" || len(h) > 16*len(c) {
		return c, false
	}
	parts := strings.Split(h, ",")
	if len(parts) != len(c) {
		return c, false
	}
	total := 0
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return c, false
		}
		c[i] = uint32(n)
		total += int(n)
		if total > scans {
			return c, false
		}
	}
	return c, true
}

// observeLatency adds a batch's counts to h: each count as that many
// observations at its bucket's bound (beyond the last, at twice it).
func observeLatency(h prometheus.Observer, c latencyCounts) {
	for i, n := range c {
		v := 2 * decisionBuckets[len(decisionBuckets)-1]
		if i < len(decisionBuckets) {
			v = decisionBuckets[i]
		}
		for range n {
			h.Observe(v)
		}
	}
}
