package exchange

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
)

// heartbeat is how often an idle SSE stream gets a comment line, so that
// proxies keep it open and clients notice a dead connection.
const heartbeat = 15 * time.Second

// streamBatch is how many events one SSE stream may have fetched from the
// engine and not yet written: the engine sends more only as the HTTP reader
// takes them, so a reader that stops costs at most this much memory and
// never slows the engine connection that the stream shares with the rest
// of the server.
const streamBatch = 32

// handleStream follows a topic as Server-Sent Events. Each event's SSE id is
// its seq, so a reconnecting EventSource resumes with Last-Event-ID; the
// query takes after_seq or since like the replay read; with none of these
// the stream starts with new events.
//
// The stream counts against the client's cap of open streams, ends when
// the client's key is revoked, and is cut when its reader does not take a
// write within exchange.stream_stall.
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
	st, err := x.openStream(w, r, "sse")
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := st.Context()
	cons, err := x.js.OrderedConsumer(ctx, StreamName(t.name), orderedFrom(t, q))
	if err != nil {
		return engineErr(err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(streamBatch, x.streamBytes()))
	if err != nil {
		return engineErr(err)
	}
	defer it.Stop()
	return x.serveSSE(ctx, st, it)
}

// maxEvent is the largest event a topic stores: a body of max_body with
// its envelope (attributes come from at most 64 KiB of request headers).
// The topic's stream refuses anything larger.
func (x *Exchange) maxEvent() int32 {
	return int32(min(int64(x.cfg.Exchange.MaxBody)+128<<10, x.nc.MaxPayload()))
}

// streamBytes bounds the bytes of one fetch for a stream or snapshot: one
// largest event with its subject and headers (a smaller bound would stall
// on a large event).
func (x *Exchange) streamBytes() int {
	return int(x.maxEvent()) + 4<<10
}

// serveSSE writes events as the reader takes them. It returns nil once the
// stream ends for any reason, as the status line is long gone.
func (x *Exchange) serveSSE(ctx context.Context, st *api.Stream, it jetstream.MessagesContext) error {
	h := st.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	st.WriteHeader(http.StatusOK)
	if _, err := st.Write([]byte(": stadion stream\n\n")); err != nil {
		return nil
	}
	if st.Flush() != nil {
		return nil
	}
	buf := make([]byte, 0, 4096)
	for {
		m, err := x.next(ctx, it)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			buf = append(buf[:0], ": keep-alive\n\n"...)
		case err != nil:
			x.log.Warn("stream ended by the engine", "err", err)
			return nil
		default:
			buf = appendSSE(buf[:0], m)
		}
		if _, err := st.Write(buf); err != nil {
			return nil
		}
		if st.Flush() != nil {
			return nil
		}
	}
}

// next waits up to heartbeat for the next event; it ends early with the
// stream's context.
func (x *Exchange) next(ctx context.Context, it jetstream.MessagesContext) (jetstream.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, heartbeat)
	defer cancel()
	return it.Next(jetstream.NextContext(ctx))
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
