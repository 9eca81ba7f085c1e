package live

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/mqtt"
)

// fanLoad is a loaded room: subscribers whose deliveries are counted and
// timed by epoll readers, and posters that publish at an offered rate.
type fanLoad struct {
	readers   *subReaders
	subs      int
	posters   []*poster
	topic     string
	qos       byte
	retried   int // subscribers that had to connect again
	posterErr atomic.Pointer[error]
}

// poster is one publishing connection.
type poster struct {
	conn   net.Conn
	buf    []byte
	nextID uint16 // of its QoS 1 and 2 PUBLISH packets
}

// stepResult is one offered rate held for a while: what was sent, what
// arrived and how late.
type stepResult struct {
	Rate            float64 `json:"offered_rate"`
	Subscribers     int     `json:"subscribers"`
	Sent            int64   `json:"sent"`
	SentPerSec      float64 `json:"sent_per_sec"`
	Expected        int64   `json:"expected"`
	Received        int64   `json:"received"`
	Lost            int64   `json:"lost"`
	DeliveredPerSec float64 `json:"delivered_per_sec"` // arrivals inside the window
	// WindowExpected and WindowReceived count the deliveries of the
	// comments sent inside the window, wherever they arrived.
	WindowExpected int64       `json:"window_expected"`
	WindowReceived int64       `json:"window_received"`
	Latency        rig.Latency `json:"latency"`
	DrainMS        float64     `json:"drain_ms"`      // from the last send until all arrived (or gave up)
	ClientLagMS    float64     `json:"client_lag_ms"` // the longest a comment was sent after it was due
	Error          string      `json:"error,omitempty"`
}

// newFanLoad connects req.Conns subscribers to req.Filter and one poster
// per credential in req.Posters.
func newFanLoad(ctx context.Context, req liveReq) (*fanLoad, error) {
	if req.Addr == "" || req.Filter == "" || req.PostTopic == "" || len(req.Posters) == 0 {
		return nil, errors.New("load needs addr, filter, post_topic and posters")
	}
	timeout := cmp.Or(time.Duration(req.TimeoutMS)*time.Millisecond, 10*time.Second)
	l := &fanLoad{topic: req.PostTopic, subs: req.Conns, qos: byte(req.QoS)}
	var err error
	if l.readers, err = newSubReaders(2); err != nil {
		return nil, err
	}
	prefix := fmt.Sprintf("fo%d-%d-", os.Getpid(), time.Now().UnixNano()%1e6)
	idle, err := l.subscribe(ctx, req)
	for _, c := range idle {
		if err == nil {
			err = l.readers.add(c.Conn)
		} else {
			c.Close()
		}
	}
	for i, cred := range req.Posters {
		if err != nil {
			break
		}
		var c net.Conn
		c, err = dialMQTT(req.Addr, fmt.Sprintf("%sp%d", prefix, i), cred, "", timeout)
		if err == nil {
			l.addPoster(c)
		}
	}
	if err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

// subscribe connects the subscribers. Those that fail are tried again up
// to three times, a second apart, as a real client would reconnect.
func (l *fanLoad) subscribe(ctx context.Context, req liveReq) ([]*idleConn, error) {
	sreq := req
	sreq.Concurrency = cmp.Or(req.Concurrency, 64)
	var all []*idleConn
	for try := 0; ; try++ {
		idle, res, err := storm(ctx, sreq)
		all = append(all, idle...)
		switch {
		case err != nil:
			return all, err
		case res.Failures == 0:
			return all, nil
		case try == 3:
			return all, fmt.Errorf("%d of %d subscribers failed to connect, also after 3 retries: %s", res.Failures, req.Conns, res.FirstError)
		}
		l.retried += res.Failures
		sreq.Conns = res.Failures
		time.Sleep(time.Second)
	}
}

// addPoster keeps a poster and drains what the broker sends it.
func (l *fanLoad) addPoster(c net.Conn) {
	l.posters = append(l.posters, &poster{conn: c})
	go func() {
		err := answerPoster(c)
		err = fmt.Errorf("a poster's connection ended: %w", err)
		l.posterErr.CompareAndSwap(nil, &err)
	}()
}

func (l *fanLoad) close() {
	for _, p := range l.posters {
		p.conn.Close()
	}
	l.readers.close()
}

// pacers is how many goroutines share the posters.
const pacers = 2

// step offers req.Rate comments/s for warm-up plus measure, then waits
// for the deliveries to drain, and reports the measured window.
func (l *fanLoad) step(ctx context.Context, req liveReq) *stepResult {
	warm, meas := time.Duration(req.WarmupMS)*time.Millisecond, time.Duration(req.MeasureMS)*time.Millisecond
	start := time.Now()
	t0, t1 := start.Add(warm), start.Add(warm+meas)
	l.readers.setWindow(t0.UnixNano(), t1.UnixNano())
	before := l.readers.total()
	pg := l.offer(ctx, req.Rate, req.Size, start, t0, t1)
	r := &stepResult{Rate: req.Rate, Subscribers: l.readers.conns(), Sent: pg.sent, ClientLagMS: rig.MS(pg.lag)}
	r.SentPerSec = float64(pg.sent) / (warm + meas).Seconds()
	r.Expected = pg.sent * int64(r.Subscribers)
	r.WindowExpected = pg.inWin * int64(r.Subscribers)
	r.DrainMS = rig.MS(l.drain(ctx, before+r.Expected))
	r.Received = l.readers.total() - before
	r.Lost = max(r.Expected-r.Received, 0)
	var h rig.Histogram
	win := l.readers.collect(&h)
	r.DeliveredPerSec = float64(win) / meas.Seconds()
	r.WindowReceived = int64(h.N)
	r.Latency = h.Summary()
	if e := l.posterErr.Load(); e != nil {
		r.Error = (*e).Error()
	} else if e := l.readers.err(); e != nil {
		r.Error = e.Error()
	}
	return r
}

// pacing is what the pacers did in a step.
type pacing struct {
	sent  int64         // comments sent
	inWin int64         // those sent inside the measured window
	lag   time.Duration // the longest a due comment waited to be sent
}

// offer publishes at rate from start until end, the posters shared by the
// pacers. Every comment due before end is sent, late if the load
// generator stalled (lag says how late).
func (l *fanLoad) offer(ctx context.Context, rate float64, size int, start, t0, end time.Time) pacing {
	var mu sync.Mutex
	var total pacing
	var wg sync.WaitGroup
	n := min(pacers, len(l.posters))
	for p := range n {
		pc := &pacer{posters: strided(l.posters[p:], n), rate: rate / float64(n), size: size, topic: l.topic, qos: l.qos, seq: uint64(p) << 48}
		wg.Go(func() {
			got := pc.run(ctx, start, t0, end)
			mu.Lock()
			total.sent += got.sent
			total.inWin += got.inWin
			total.lag = max(total.lag, got.lag)
			mu.Unlock()
		})
	}
	wg.Wait()
	return total
}

func strided(ps []*poster, stride int) []*poster {
	var out []*poster
	for i := 0; i < len(ps); i += stride {
		out = append(out, ps[i])
	}
	return out
}

// pacer is one pacing goroutine's share of the posters and the rate.
type pacer struct {
	posters []*poster
	rate    float64
	size    int
	topic   string
	qos     byte
	seq     uint64
	next    int
	payload []byte
}

// run writes, every millisecond, the comments due by then, round-robin
// over the posters. Comment k is due at start + k/rate.
func (pc *pacer) run(ctx context.Context, start, t0, end time.Time) pacing {
	var pg pacing
	total := int64(math.Ceil(end.Sub(start).Seconds() * pc.rate))
	for ctx.Err() == nil && pg.sent < total {
		now := time.Now()
		due := min(int64(now.Sub(start).Seconds()*pc.rate)+1, total)
		if due > pg.sent {
			oldest := start.Add(time.Duration(float64(pg.sent) / pc.rate * float64(time.Second)))
			pg.lag = max(pg.lag, now.Sub(oldest))
			pc.write(now, due-pg.sent)
			if !now.Before(t0) && !now.After(end) {
				pg.inWin += due - pg.sent
			}
			pg.sent = due
		}
		time.Sleep(time.Millisecond)
	}
	return pg
}

// write sends n comments stamped now.
func (pc *pacer) write(now time.Time, n int64) {
	ts := now.UnixNano()
	for range n {
		p := pc.posters[pc.next%len(pc.posters)]
		pc.next++
		pc.payload = rig.AppendComment(pc.payload[:0], ts, pc.seq, pc.size)
		pc.seq++
		if pc.qos == 0 {
			p.buf = rig.AppendMQTTPublish(p.buf, pc.topic, pc.payload)
			continue
		}
		if p.nextID++; p.nextID == 0 {
			p.nextID = 1
		}
		p.buf = mqtt.AppendPublish(p.buf, mqtt.Message{Topic: pc.topic, Payload: pc.payload, QoS: pc.qos}, false, p.nextID)
	}
	for _, p := range pc.posters {
		if len(p.buf) > 0 {
			p.conn.SetWriteDeadline(now.Add(5 * time.Second))
			p.conn.Write(p.buf)
			p.buf = p.buf[:0]
		}
	}
}

// drain waits until the readers have counted want deliveries in all, or
// nothing arrived for 2 seconds, or 10 seconds passed; it returns how
// long after start the last delivery arrived.
func (l *fanLoad) drain(ctx context.Context, want int64) time.Duration {
	start := time.Now()
	last, lastAt := l.readers.total(), start
	for ctx.Err() == nil && time.Since(start) < 10*time.Second {
		n := l.readers.total()
		if n >= want {
			break
		}
		if n != last {
			last, lastAt = n, time.Now()
		} else if time.Since(lastAt) > 2*time.Second {
			return lastAt.Sub(start)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}
