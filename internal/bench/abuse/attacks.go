package abuse

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/loop"
)

// abuseAttack is one resource attack on the server under test.
type abuseAttack interface {
	// start sets the attack up and returns once it is in force (its
	// connections made) or ctx ends.
	start(ctx context.Context) error
	// stop ends the attack, closing everything it opened, and reports it.
	stop() abuseAttackResult
}

// abuseAttackResult is what an attack achieved.
type abuseAttackResult struct {
	Description string  `json:"description"`
	Attempts    int64   `json:"attempts"`
	Held        int64   `json:"held,omitempty"`     // connections in force when the measurement began
	Refused     int64   `json:"refused"`            // attempts the server turned down (the attack failing)
	Accepted    int64   `json:"accepted,omitempty"` // bad-password CONNECTs let in (a hole)
	Failed      int64   `json:"failed"`             // attempts that broke on the wire (timeouts, resets)
	PerSec      float64 `json:"per_sec,omitempty"`  // attempts per second achieved
	FirstError  string  `json:"first_error,omitempty"`
	Refusal     string  `json:"refusal,omitempty"` // how the server said no, the first time
}

// abuseSetupTimeout bounds how long an attack may take to set up.
const abuseSetupTimeout = 60 * time.Second

// abuseDialers make an attack's connections concurrently.
const abuseDialers = 32

func newAbuseAttack(name string, o abuseOptions, r *abuseRig) abuseAttack {
	switch name {
	case "sse":
		return &sseAttack{n: o.sse, url: r.srv.Ep.HTTP + "/v1/topics/" + abuseTopic + "/stream?after_seq=0", key: r.attacker}
	case "mqtt-half":
		return &halfPublishAttack{n: o.half, addr: r.srv.Ep.MQTT}
	case "mqtt-auth":
		return &badAuthAttack{rate: o.connects, addr: r.srv.Ep.MQTT}
	}
	return nil
}

// connHolder holds the connections of an attack that keeps them open.
type connHolder struct {
	mu      sync.Mutex
	conns   []net.Conn
	count   abuseCounter
	refusal atomic.Pointer[string]
}

// dialAll runs open n times from abuseDialers goroutines; each success
// is held until release.
func (h *connHolder) dialAll(ctx context.Context, n int, open func(ctx context.Context, i int) (net.Conn, bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, abuseSetupTimeout)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(abuseDialers, n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				c, refused, err := open(ctx, i)
				h.count.add(refused, err == nil && !refused, err)
				if c == nil {
					continue
				}
				h.mu.Lock()
				h.conns = append(h.conns, c)
				h.mu.Unlock()
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

func (h *connHolder) release(desc string) abuseAttackResult {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.Close()
	}
	r := abuseAttackResult{Description: desc, Held: int64(len(h.conns)), Attempts: h.count.attempts,
		Refused: h.count.refused, Failed: h.count.failed, FirstError: h.count.firstErr}
	if p := h.refusal.Load(); p != nil {
		r.Refusal = "answered " + *p
	}
	h.conns = nil
	return r
}

// sseAttack opens n SSE streams replaying the topic from its start, on
// one subscriber key, and never reads them: only the status line, to
// tell a stream the server accepted from one it refused.
type sseAttack struct {
	n        int
	url, key string
	h        connHolder
}

func (a *sseAttack) start(ctx context.Context) error {
	u, err := url.Parse(a.url)
	if err != nil {
		return err
	}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", u.RequestURI(), u.Host, a.key)
	err = a.h.dialAll(ctx, a.n, func(ctx context.Context, _ int) (net.Conn, bool, error) {
		c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return nil, false, err
		}
		_ = c.(*net.TCPConn).SetReadBuffer(4096)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		var status [12]byte // "HTTP/1.1 200"
		if _, err := io.WriteString(c, req); err != nil {
			c.Close()
			return nil, false, err
		}
		if _, err := io.ReadFull(c, status[:]); err != nil {
			c.Close()
			return nil, false, fmt.Errorf("stream status: %w", err)
		}
		c.SetDeadline(time.Time{})
		if code := string(status[9:]); code != "200" {
			c.Close()
			a.h.refusal.CompareAndSwap(nil, &code)
			return nil, true, nil
		}
		return c, false, nil
	})
	return err
}

func (a *sseAttack) stop() abuseAttackResult {
	return a.h.release(fmt.Sprintf("%d SSE streams from the start, never read, one key", a.n))
}

// halfPublishAttack opens n anonymous MQTT connections with keep-alive 0
// and sends on each the fixed header of a 64 KiB PUBLISH, then nothing.
type halfPublishAttack struct {
	n    int
	addr string
	h    connHolder
}

// halfPublishHeader is a QoS 0 PUBLISH's first byte and a remaining
// length of 65,536 bytes that never follow.
var halfPublishHeader = rig.AppendMQTTLen([]byte{rig.MQTTPublish << 4}, 64<<10)

func (a *halfPublishAttack) start(ctx context.Context) error {
	return a.h.dialAll(ctx, a.n, func(ctx context.Context, i int) (net.Conn, bool, error) {
		c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", a.addr)
		if err != nil {
			return nil, false, err
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := rig.MQTTHandshake(c, fmt.Sprintf("abuse-half-%d", i), "", "", ""); err != nil {
			c.Close()
			msg := err.Error()
			refused := strings.HasPrefix(msg, "connection refused")
			if refused {
				a.h.refusal.CompareAndSwap(nil, &msg)
				err = nil
			}
			return nil, refused, err
		}
		if _, err := c.Write(halfPublishHeader); err != nil {
			c.Close()
			return nil, false, err
		}
		c.SetDeadline(time.Time{})
		return c, false, nil
	})
}

func (a *halfPublishAttack) stop() abuseAttackResult {
	return a.h.release(fmt.Sprintf("%d MQTT connections, keep-alive 0, half a 64 KiB PUBLISH each", a.n))
}

// badAuthAttack makes MQTT CONNECTs with a wrong password at rate per
// second, from abuseAuthWorkers goroutines, until stopped. Each
// connection is reset (SO_LINGER 0) once the CONNACK arrives, as a
// scanner would, so that no TIME_WAIT exhausts the loopback ports.
type badAuthAttack struct {
	rate  float64
	addr  string
	count abuseCounter
	t0    time.Time
	quit  context.CancelFunc
	wg    sync.WaitGroup
}

const abuseAuthWorkers = 64

// abuseBadPassword looks like an API key and is none.
const abuseBadPassword = "stk_0000000000000000_bench-abuse-is-not-a-key-bench-abuse-not"

func (a *badAuthAttack) start(ctx context.Context) error {
	ctx, a.quit = context.WithCancel(context.WithoutCancel(ctx))
	interval := time.Duration(float64(time.Second) / a.rate)
	a.t0 = time.Now()
	var slot atomic.Int64
	for w := range abuseAuthWorkers {
		a.wg.Go(func() {
			for ctx.Err() == nil {
				due := a.t0.Add(time.Duration(slot.Add(1)-1) * interval)
				if !loop.SleepUntil(ctx, due) {
					return
				}
				refused, accepted, err := a.connect(ctx, w)
				if ctx.Err() != nil {
					return
				}
				a.count.add(refused, accepted, err)
			}
		})
	}
	return nil
}

// connect is one bad-password CONNECT: refused is the server saying no.
func (a *badAuthAttack) connect(ctx context.Context, w int) (refused, accepted bool, err error) {
	c, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp", a.addr)
	if err != nil {
		return false, false, err
	}
	defer func() {
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(rig.MQTTConnectPacket(fmt.Sprintf("abuse-auth-%d", w), "attacker", abuseBadPassword)); err != nil {
		return false, false, err
	}
	var ack [4]byte
	if _, err := io.ReadFull(c, ack[:]); err != nil {
		return false, false, fmt.Errorf("reading CONNACK: %w", err)
	}
	if ack[0]>>4 != rig.MQTTConnack {
		return false, false, fmt.Errorf("answer % x is no CONNACK", ack)
	}
	return ack[3] != 0, ack[3] == 0, nil
}

func (a *badAuthAttack) stop() abuseAttackResult {
	a.quit()
	a.wg.Wait()
	took := time.Since(a.t0)
	c := &a.count
	return abuseAttackResult{
		Description: fmt.Sprintf("bad-password MQTT CONNECTs at %s/s offered", cmdio.Thousands(a.rate)),
		Attempts:    c.attempts, Refused: c.refused, Accepted: c.accepted, Failed: c.failed,
		PerSec: float64(c.attempts) / took.Seconds(), FirstError: c.firstErr,
	}
}
