package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Streams admits and accounts for long-lived responses (SSE streams,
// snapshots, long pulls). Each client may hold at most perClient of them
// open at once on this process; each runs under a context that ends when
// the caller's key is revoked; and every write must reach the client within
// stall, or the response is cut. Safe for concurrent use.
type Streams struct {
	perClient int
	stall     time.Duration

	mu   sync.Mutex
	open map[string]int // per client

	gauge   *prometheus.GaugeVec
	slow    *prometheus.CounterVec
	refused *prometheus.CounterVec
}

// NewStreams registers the stream metrics with reg, with a series for each
// of kinds from the start.
func NewStreams(perClient int, stall time.Duration, reg prometheus.Registerer, kinds ...string) *Streams {
	s := &Streams{
		perClient: perClient, stall: stall, open: map[string]int{},
		gauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stadion_http_streams_open",
			Help: "Long-lived HTTP responses open now (SSE streams, snapshots, long pulls), by kind.",
		}, []string{"kind"}),
		slow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_http_streams_closed_slow_total",
			Help: "Long-lived HTTP responses cut because their reader did not take a write within the stall bound.",
		}, []string{"kind"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_http_streams_refused_total",
			Help: "Long-lived HTTP responses refused with 429 because the client held its cap of open ones.",
		}, []string{"kind"}),
	}
	reg.MustRegister(s.gauge, s.slow, s.refused)
	for _, k := range kinds {
		s.gauge.WithLabelValues(k)
		s.slow.WithLabelValues(k)
		s.refused.WithLabelValues(k)
	}
	return s
}

// Stream is one admitted long-lived response. Write and Flush give each
// write the stall bound as its deadline; Close releases the slot. Not safe
// for concurrent use (one handler goroutine owns it).
type Stream struct {
	s       *Streams
	kind    string
	client  string
	w       http.ResponseWriter
	rc      *http.ResponseController
	ctx     context.Context
	cancel  context.CancelFunc
	once    sync.Once
	stalled atomic.Bool // set by the handler; read by Close from any goroutine
}

// Open admits a stream of kind for the caller of r, or returns a 429
// problem naming the cap. The stream's Context ends with the request, with
// the caller's key (revoked on any replica) and with Close.
func (s *Streams) Open(w http.ResponseWriter, r *http.Request, kind string) (*Stream, error) {
	p, _ := PrincipalFrom(r.Context())
	s.mu.Lock()
	if s.open[p.Client] >= s.perClient {
		s.mu.Unlock()
		s.refused.WithLabelValues(kind).Inc()
		prob := NewProblem(http.StatusTooManyRequests, "too-many-streams", "Too many open streams",
			fmt.Sprintf("client %q already holds %d open streams, snapshots and long pulls on this server (exchange.streams_per_client); close one first", p.Client, s.perClient))
		prob.Extra = map[string]any{"limit": s.perClient}
		w.Header().Set("Retry-After", "1")
		return nil, prob
	}
	s.open[p.Client]++
	s.mu.Unlock()
	s.gauge.WithLabelValues(kind).Inc()
	ctx, cancel := p.Bind(r.Context())
	return &Stream{s: s, kind: kind, client: p.Client, w: w, rc: http.NewResponseController(w), ctx: ctx, cancel: cancel}, nil
}

// Context ends when the client goes, its key is revoked, or Close runs.
func (st *Stream) Context() context.Context { return st.ctx }

// Header is the response's header, to set before the first write.
func (st *Stream) Header() http.Header { return st.w.Header() }

// WriteHeader sends the status line.
func (st *Stream) WriteHeader(code int) {
	st.deadline()
	st.w.WriteHeader(code)
}

// Write writes p; a reader that does not take it within the stall bound
// ends the stream (the error is then ErrStalled).
func (st *Stream) Write(p []byte) (int, error) {
	st.deadline()
	n, err := st.w.Write(p)
	return n, st.check(err)
}

// Flush sends what is buffered to the client, under the same deadline.
func (st *Stream) Flush() error {
	st.deadline()
	return st.check(st.rc.Flush())
}

// Close releases the stream's slot and ends its context; the end of the
// response still has the stall bound to reach the client. Idempotent.
func (st *Stream) Close() {
	st.once.Do(func() {
		st.cancel()
		if !st.stalled.Load() {
			st.deadline()
		}
		st.s.mu.Lock()
		if st.s.open[st.client]--; st.s.open[st.client] <= 0 {
			delete(st.s.open, st.client)
		}
		st.s.mu.Unlock()
		st.s.gauge.WithLabelValues(st.kind).Dec()
	})
}

// ErrStalled is returned by a Stream's writes once its reader fell behind
// by more than the stall bound.
var ErrStalled = errors.New("stream reader stalled")

func (st *Stream) deadline() {
	_ = st.rc.SetWriteDeadline(time.Now().Add(st.s.stall))
}

func (st *Stream) check(err error) error {
	if err == nil {
		return nil
	}
	if st.stalled.Load() || errors.Is(err, os.ErrDeadlineExceeded) {
		if st.stalled.CompareAndSwap(false, true) {
			st.s.slow.WithLabelValues(st.kind).Inc()
			st.cancel()
		}
		return fmt.Errorf("%w: %w", ErrStalled, err)
	}
	return err
}
