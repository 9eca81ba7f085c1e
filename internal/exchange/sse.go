package exchange

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
)

// heartbeat is how often an idle SSE stream gets a comment line, so that
// proxies keep it open and clients notice a dead connection.
const heartbeat = 15 * time.Second

// handleStream follows a topic as Server-Sent Events. Each event's SSE id is
// its seq, so a reconnecting EventSource resumes with Last-Event-ID; the
// query takes after_seq or since like the replay read; with none of these
// the stream starts with new events.
func (x *Exchange) handleStream(w http.ResponseWriter, r *http.Request) error {
	t, err := x.readable(r)
	if err != nil {
		return err
	}
	q, err := parseReadQuery(r)
	if err != nil {
		return err
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return api.BadRequest("Last-Event-ID must be the seq of an event")
		}
		q.afterSeq, q.hasAfter, q.since = n, true, time.Time{}
	}
	ctx := r.Context()
	cons, err := x.js.OrderedConsumer(ctx, StreamName(t.name), orderedFrom(t, q))
	if err != nil {
		return engineErr(err)
	}
	events := make(chan jetstream.Msg, 256)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case events <- m:
		case <-ctx.Done():
		}
	})
	if err != nil {
		return engineErr(err)
	}
	defer cc.Stop()
	return serveSSE(ctx, w, events, x.closing)
}

func serveSSE(ctx context.Context, w http.ResponseWriter, events <-chan jetstream.Msg, closing <-chan struct{}) error {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte(": stadion stream\n\n")); err != nil {
		return nil
	}
	_ = rc.Flush()
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	buf := make([]byte, 0, 4096)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-closing:
			return nil
		case <-tick.C:
			buf = append(buf[:0], ": keep-alive\n\n"...)
		case m := <-events:
			buf = appendSSE(buf[:0], m)
		}
		if _, err := w.Write(buf); err != nil {
			return nil
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

func appendSSE(buf []byte, m jetstream.Msg) []byte {
	seq := uint64(0)
	if md, err := m.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	buf = append(buf, "id: "...)
	buf = strconv.AppendUint(buf, seq, 10)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, withSeq(m.Data(), seq)...)
	return append(buf, "\n\n"...)
}
