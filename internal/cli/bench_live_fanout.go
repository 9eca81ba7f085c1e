package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// fanLoad is a loaded room: subscribers whose deliveries are counted and
// timed by epoll readers, and posters that publish at an offered rate.
type fanLoad struct {
	readers   *subReaders
	subs      int
	posters   []*poster
	topic     string
	posterErr atomic.Pointer[error]
}

// poster is one publishing connection.
type poster struct {
	conn net.Conn
	buf  []byte
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
	DeliveredPerSec float64 `json:"delivered_per_sec"`
	Latency         latency `json:"latency"`
	DrainMS         float64 `json:"drain_ms"` // from the last send until all arrived (or gave up)
	Error           string  `json:"error,omitempty"`
}

// newFanLoad connects req.Conns subscribers to req.Filter and one poster
// per credential in req.Posters.
func newFanLoad(ctx context.Context, req liveReq) (*fanLoad, error) {
	if req.Addr == "" || req.Filter == "" || req.PostTopic == "" || len(req.Posters) == 0 {
		return nil, errors.New("load needs addr, filter, post_topic and posters")
	}
	timeout := cmp.Or(time.Duration(req.TimeoutMS)*time.Millisecond, 10*time.Second)
	l := &fanLoad{topic: req.PostTopic, subs: req.Conns}
	var err error
	if l.readers, err = newSubReaders(2); err != nil {
		return nil, err
	}
	prefix := fmt.Sprintf("fo%d-%d-", os.Getpid(), time.Now().UnixNano()%1e6)
	sreq := req
	sreq.Concurrency = cmp.Or(req.Concurrency, 64)
	idle, res, err := storm(ctx, sreq)
	if err == nil && res.Failures > 0 {
		err = fmt.Errorf("%d of %d subscribers failed to connect: %s", res.Failures, req.Conns, res.FirstError)
	}
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

// addPoster keeps a poster and drains what the broker sends it.
func (l *fanLoad) addPoster(c net.Conn) {
	l.posters = append(l.posters, &poster{conn: c})
	go func() {
		_, err := io.Copy(io.Discard, c)
		if err == nil {
			err = io.EOF
		}
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
	sent, inWin := l.offer(ctx, req.Rate, req.Size, start, t1)
	r := &stepResult{Rate: req.Rate, Subscribers: l.readers.conns(), Sent: sent}
	r.SentPerSec = float64(inWin) / meas.Seconds()
	r.Expected = sent * int64(r.Subscribers)
	r.DrainMS = ms(l.drain(ctx, before+r.Expected))
	r.Received = l.readers.total() - before
	r.Lost = max(r.Expected-r.Received, 0)
	var h histogram
	win := l.readers.collect(&h)
	r.DeliveredPerSec = float64(win) / meas.Seconds()
	r.Latency = h.summary()
	if e := l.posterErr.Load(); e != nil {
		r.Error = (*e).Error()
	} else if e := l.readers.err(); e != nil {
		r.Error = e.Error()
	}
	return r
}

// offer publishes at rate from start until end, the posters shared by the
// pacers; it returns how many comments were sent, and how many of them in
// the measured window.
func (l *fanLoad) offer(ctx context.Context, rate float64, size int, start, end time.Time) (sent, inWin int64) {
	var total, win atomic.Int64
	var wg sync.WaitGroup
	n := min(pacers, len(l.posters))
	t0 := l.readers.window.t0.Load()
	for p := range n {
		mine := l.posters[p:]
		wg.Go(func() {
			s, w := pace(ctx, mine, n, rate/float64(n), size, l.topic, uint64(p)<<48, start, end, t0)
			total.Add(s)
			win.Add(w)
		})
	}
	wg.Wait()
	return total.Load(), win.Load()
}

// pace is one pacer: every millisecond it writes the comments due by then,
// round-robin over every stride-th poster of posters.
func pace(ctx context.Context, posters []*poster, stride int, rate float64, size int, topic string, seq uint64, start, end time.Time, t0 int64) (sent, inWin int64) {
	var mine []*poster
	for i := 0; i < len(posters); i += stride {
		mine = append(mine, posters[i])
	}
	payload := make([]byte, 0, size+32)
	next := 0
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(end) {
			return sent, inWin
		}
		due := int64(now.Sub(start).Seconds()*rate) - sent
		ts := now.UnixNano()
		for range due {
			p := mine[next%len(mine)]
			next++
			payload = appendComment(payload[:0], ts, seq, size)
			seq++
			p.buf = appendMQTTPublish(p.buf, topic, payload)
		}
		sent += due
		if ts >= t0 {
			inWin += due
		}
		for _, p := range mine {
			if len(p.buf) > 0 {
				p.conn.SetWriteDeadline(now.Add(5 * time.Second))
				p.conn.Write(p.buf)
				p.buf = p.buf[:0]
			}
		}
		time.Sleep(time.Millisecond)
	}
	return sent, inWin
}

// drain waits until the readers have counted want deliveries in all, or
// nothing arrived for half a second, or 5 seconds passed; it returns how
// long after start the last delivery arrived.
func (l *fanLoad) drain(ctx context.Context, want int64) time.Duration {
	start := time.Now()
	last, lastAt := l.readers.total(), start
	for ctx.Err() == nil && time.Since(start) < 5*time.Second {
		n := l.readers.total()
		if n >= want {
			break
		}
		if n != last {
			last, lastAt = n, time.Now()
		} else if time.Since(lastAt) > 500*time.Millisecond {
			return lastAt.Sub(start)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}
