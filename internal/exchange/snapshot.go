package exchange

import (
	"context"
	"fmt"
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
	ctx := r.Context()
	si, err := t.stream.Info(ctx)
	if err != nil {
		return engineErr(err)
	}
	w.Header().Set("Content-Type", "application/json")
	if _, err := w.Write([]byte(`{"events":[`)); err != nil {
		return nil
	}
	last := si.State.LastSeq
	if si.State.Msgs > 0 {
		if last, err = x.writeLatest(ctx, w, t, si.State.NumSubjects); err != nil {
			// The status line is gone; end the JSON so the client sees a
			// truncated, invalid document rather than a plausible one.
			x.log.Warn("snapshot failed mid-stream", "topic", t.name, "err", err)
			return nil
		}
	}
	_, _ = fmt.Fprintf(w, `],"seq":%d,"topic":%q}`+"\n", last, t.name)
	return nil
}

// writeLatest writes the last event per key and returns the highest seq
// written. keys is how many keys the stream holds: each fetch asks for
// exactly the events still pending, as a fetch of more waits out its
// MaxWait.
func (x *Exchange) writeLatest(ctx context.Context, w http.ResponseWriter, t *topic, keys uint64) (uint64, error) {
	cons, err := x.js.OrderedConsumer(ctx, StreamName(t.name), jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{SubjectFilter(t.name)},
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		InactiveThreshold: readerIdle,
	})
	if err != nil {
		return 0, err
	}
	var last uint64
	first := true
	want := min(max(keys, 1), 500)
	for {
		batch, err := cons.Fetch(int(want), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return last, err
		}
		n, pending := 0, uint64(1)
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return last, err
			}
			if !first {
				_, _ = w.Write([]byte{','})
			}
			first = false
			_, _ = w.Write(withSeq(m.Data(), md.Sequence.Stream))
			last, pending, n = md.Sequence.Stream, md.NumPending, n+1
		}
		if err := batch.Error(); err != nil {
			return last, err
		}
		if pending == 0 || n == 0 {
			return last, nil
		}
		want = min(pending, 500)
	}
}
