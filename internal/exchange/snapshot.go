package exchange

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
)

// handleSnapshot answers a sync topic's current state: the latest event of
// every key, then "seq", the sequence to follow on from (GET .../stream
// with Last-Event-ID: seq, or events?after_seq=seq). The body is streamed,
// so a topic with many keys does not have to fit in memory at once.
func (x *Exchange) handleSnapshot(w http.ResponseWriter, r *http.Request) error {
	t, err := x.readable(r)
	if err != nil {
		return err
	}
	if t.cfg.Key == "" {
		return api.BadRequest(fmt.Sprintf("topic %q has no key, so it has no snapshot; read its events instead", t.name))
	}
	// A snapshot is a long-lived response: it counts against the client's
	// cap, ends when the client's key is revoked, and is cut when its
	// reader stalls.
	st, err := x.openStream(w, r, "snapshot")
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := st.Context()
	si, err := t.stream.Info(ctx)
	if err != nil {
		if ctx.Err() != nil && r.Context().Err() == nil {
			return ended(r)
		}
		return engineErr(err)
	}
	st.Header().Set("Content-Type", "application/json")
	if _, err := st.Write([]byte(`{"events":[`)); err != nil {
		return nil
	}
	last := si.State.LastSeq
	if si.State.Msgs > 0 {
		if last, err = x.writeLatest(ctx, st, t, si.State.NumSubjects); err != nil {
			// The status line is gone; leave the JSON unterminated so the
			// client sees a truncated, invalid document rather than a
			// plausible one.
			x.log.Warn("snapshot ended mid-stream", "topic", t.name, "err", err)
			return nil
		}
	}
	_, _ = fmt.Fprintf(st, `],"seq":%d,"topic":%q}`+"\n", last, t.name)
	return nil
}

// writeLatest writes the last event per key and returns the highest seq
// written. keys is how many keys the stream holds: each fetch asks for
// exactly the events still pending, as a fetch of more waits out its
// deadline.
func (x *Exchange) writeLatest(ctx context.Context, w io.Writer, t *topic, keys uint64) (uint64, error) {
	cons, err := x.js.OrderedConsumer(ctx, StreamName(t.name), jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{SubjectFilter(t.name)},
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		InactiveThreshold: readerIdle,
	})
	if err != nil {
		return 0, err
	}
	sw := &snapshotWriter{w: w, first: true}
	want := min(max(keys, 1), 500)
	for {
		n, pending, err := x.writeBatch(ctx, cons, int(want), sw)
		if err != nil || pending == 0 || n == 0 {
			return sw.last, err
		}
		want = min(pending, 500)
	}
}

// snapshotWriter writes a snapshot's events as one JSON array's items.
type snapshotWriter struct {
	w     io.Writer
	first bool
	last  uint64
}

func (sw *snapshotWriter) event(data []byte, seq uint64) error {
	if !sw.first {
		if _, err := sw.w.Write([]byte{','}); err != nil {
			return err
		}
	}
	sw.first = false
	if _, err := sw.w.Write(withSeq(data, seq)); err != nil {
		return err
	}
	sw.last = seq
	return nil
}

// writeBatch fetches and writes the next want events of a snapshot, at most
// streamBytes of them (what the engine sends waits in the batch while the
// reader takes the previous ones, so this is the snapshot's buffer). It
// returns how many it wrote and how many the engine says remain.
func (x *Exchange) writeBatch(ctx context.Context, cons jetstream.Consumer, want int, sw *snapshotWriter) (int, uint64, error) {
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	batch, err := cons.Fetch(want, jetstream.FetchContext(fctx), jetstream.FetchMaxBytes(x.streamBytes()))
	if err != nil {
		return 0, 0, err
	}
	n, pending := 0, uint64(1)
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			return n, 0, err
		}
		if err := sw.event(m.Data(), md.Sequence.Stream); err != nil {
			return n, 0, err
		}
		pending, n = md.NumPending, n+1
	}
	if err := batch.Error(); err != nil && !(errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil) {
		return n, 0, err
	}
	return n, pending, nil
}
