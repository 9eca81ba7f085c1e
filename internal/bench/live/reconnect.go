package live

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
)

// The reconnect storm of bench live: --sessions persistent sessions
// (cleanSession=false, QoS 1) subscribe and disconnect; --owed comments are
// posted while they are away; then every session reconnects at once
// (--concurrency handshakes in flight) and acknowledges what it receives.
// Each delivery's comment number is kept per connection, so that lost and
// duplicated deliveries are counted, not guessed.

// reconnectResult is what the reconnect storm measured.
type reconnectResult struct {
	Sessions   int     `json:"sessions"`
	Owed       int     `json:"owed_each"`
	Connected  int     `json:"reconnected"`
	Failures   int     `json:"failures"`
	FirstError string  `json:"first_error,omitempty"`
	NotPresent int     `json:"session_not_present"` // CONNACK said the session was gone
	Expected   int64   `json:"expected"`
	Received   int64   `json:"received"`
	Duplicates int64   `json:"duplicates"`
	Lost       int64   `json:"lost"`
	ConnectSec float64 `json:"connect_s"` // first dial to the last CONNACK
	DrainSec   float64 `json:"drain_s"`   // first dial to the last delivery
	// Witnessed is how many of the owed comments an online subscriber got
	// before the sessions returned: all of them, or the broker lost some
	// before any session could.
	Witnessed int64 `json:"witnessed"`
}

// postOwed sends req.Conns comments through the loaded posters at QoS
// req.QoS and waits until the load's subscribers received them all
// (at most 30 s); it returns how many deliveries arrived.
func (l *fanLoad) postOwed(ctx context.Context, req liveReq) int64 {
	before := l.readers.total()
	pc := &pacer{posters: l.posters, size: cmp.Or(req.Size, 100), topic: l.topic, qos: l.qos, seq: 1 << 60}
	pc.write(time.Now(), int64(req.Conns))
	want := before + int64(req.Conns*l.readers.conns())
	for deadline := time.Now().Add(30 * time.Second); ctx.Err() == nil && time.Now().Before(deadline); {
		if l.readers.total() >= want {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return l.readers.total() - before
}

// reconnectStorm reconnects req.Conns persistent sessions (client ids
// req.Prefix<i>) without subscribing, and counts what they are owed
// (req.Size comments each) as it arrives; then it ends the sessions.
func reconnectStorm(ctx context.Context, req liveReq) (*subReaders, *reconnectResult, error) {
	if req.Conns < 1 || req.Addr == "" || req.Prefix == "" {
		return nil, nil, errors.New("reconnect needs addr, conns and prefix")
	}
	r, err := newSubReaders(2)
	if err != nil {
		return nil, nil, err
	}
	r.track = true
	timeout := cmp.Or(time.Duration(req.TimeoutMS)*time.Millisecond, 10*time.Second)
	res := &reconnectResult{Sessions: req.Conns, Owed: req.Size, Expected: int64(req.Conns * req.Size)}
	var next, connected, notPresent, failures atomic.Int64
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	var wg sync.WaitGroup
	for range min(cmp.Or(req.Concurrency, 200), req.Conns) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < req.Conns && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				present, c, err := redial(req.Addr, fmt.Sprint(req.Prefix, i), timeout)
				if err == nil {
					mu.Lock()
					err = r.add(c) // the readers' list is not safe for concurrent adds
					mu.Unlock()
				}
				if err != nil {
					failures.Add(1)
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
					continue
				}
				connected.Add(1)
				if !present {
					notPresent.Add(1)
				}
			}
		})
	}
	wg.Wait()
	res.ConnectSec = time.Since(start).Seconds()
	res.Connected, res.Failures, res.NotPresent = int(connected.Load()), int(failures.Load()), int(notPresent.Load())
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	// Wait for everything owed, or 5 s without a delivery, or 2 minutes.
	last, lastAt := r.total(), time.Now()
	for deadline := start.Add(2 * time.Minute); ctx.Err() == nil && time.Now().Before(deadline); {
		n := r.total()
		if n >= res.Expected {
			lastAt = time.Now()
			break
		}
		if n != last {
			last, lastAt = n, time.Now()
		} else if time.Since(lastAt) > 5*time.Second {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	res.DrainSec = lastAt.Sub(start).Seconds()
	res.Received, res.Duplicates = r.total(), r.duplicates()
	res.Lost = max(res.Expected-(res.Received-res.Duplicates), 0)
	r.close()
	endSessions(ctx, req, timeout)
	return nil, res, ctx.Err()
}

// endSessions ends the storm's persistent sessions, each with a
// clean-session CONNECT and a DISCONNECT, so that they queue nothing for
// the workloads after it.
func endSessions(ctx context.Context, req liveReq, timeout time.Duration) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(cmp.Or(req.Concurrency, 200), req.Conns) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < req.Conns && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				c, err := dialLogin(req.Addr, mqttLogin{clientID: fmt.Sprint(req.Prefix, i)}, timeout)
				if err != nil {
					continue
				}
				c.SetWriteDeadline(time.Now().Add(time.Second))
				c.Write(rig.MQTTDisconnectPacket)
				c.Close()
			}
		})
	}
	wg.Wait()
}

// redial connects a persistent session again, without subscribing: what
// it is owed comes from the session.
func redial(addr, clientID string, timeout time.Duration) (bool, net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return false, nil, err
	}
	c.SetDeadline(time.Now().Add(timeout))
	present, err := handshakeLogin(c, mqttLogin{clientID: clientID, keep: true})
	if err != nil {
		c.Close()
		return false, nil, err
	}
	c.SetDeadline(time.Time{})
	return present, c, nil
}
