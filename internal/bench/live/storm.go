package live

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
)

// stormResult is what a connect storm measured.
type stormResult struct {
	Conns      int         `json:"conns"`
	Connected  int         `json:"connected"`
	Failures   int         `json:"failures"`
	FirstError string      `json:"first_error,omitempty"`
	Seconds    float64     `json:"seconds"`
	PerSec     float64     `json:"connects_per_sec"`
	Handshake  rig.Latency `json:"handshake"` // dial to SUBACK, per client
}

// idleConn is a connected, subscribed client that then stays quiet.
type idleConn struct{ net.Conn }

// stormWorker is one of the goroutines that connect clients.
type stormWorker struct {
	lat      rig.Histogram
	failures int
	firstErr error
}

// storm connects req.Conns clients, each CONNECT, CONNACK, SUBSCRIBE to
// req.Filter and SUBACK, with req.Concurrency handshakes in flight, and
// keeps the connections open.
func storm(ctx context.Context, req liveReq) ([]*idleConn, *stormResult, error) {
	if req.Conns < 1 || req.Concurrency < 1 || req.Addr == "" || req.Filter == "" {
		return nil, nil, fmt.Errorf("storm needs addr, filter, conns and concurrency")
	}
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	conns := make([]*idleConn, req.Conns)
	workers := make([]stormWorker, min(req.Concurrency, req.Conns))
	var next atomic.Int64
	prefix := cmp.Or(req.Prefix, fmt.Sprintf("st%d-%d-", os.Getpid(), time.Now().UnixNano()%1e6))
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		sw := &workers[w]
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(conns) {
					return
				}
				t := time.Now()
				c, err := dialLogin(req.Addr, mqttLogin{clientID: prefix + fmt.Sprint(i), filter: req.Filter,
					qos: byte(req.QoS), keep: req.Keep}, timeout)
				if err != nil {
					sw.failures++
					sw.firstErr = cmp.Or(sw.firstErr, err)
					continue
				}
				sw.lat.Record(time.Since(t))
				conns[i] = &idleConn{c}
			}
		})
	}
	wg.Wait()
	return compact(conns), stormSummary(req.Conns, time.Since(start), workers), ctx.Err()
}

func stormSummary(n int, took time.Duration, workers []stormWorker) *stormResult {
	r := &stormResult{Conns: n, Seconds: took.Seconds()}
	var lat rig.Histogram
	var first error
	for _, w := range workers {
		lat.Merge(&w.lat)
		r.Failures += w.failures
		first = cmp.Or(first, w.firstErr)
	}
	r.Connected = int(lat.N)
	if first != nil {
		r.FirstError = first.Error()
	}
	r.PerSec = float64(r.Connected) / took.Seconds()
	r.Handshake = lat.Summary()
	return r
}

func compact(conns []*idleConn) []*idleConn {
	out := conns[:0]
	for _, c := range conns {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// dialMQTT connects and logs in as cred, subscribed to filter when set.
func dialMQTT(addr, clientID string, cred liveCred, filter string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(timeout))
	if err := rig.MQTTHandshake(c, clientID, cred.User, cred.Password, filter); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// pingAll sends PINGREQ on every connection and counts the PINGRESPs: the
// connections the broker kept while they were idle.
func pingAll(conns []*idleConn, req liveReq) int {
	var alive atomic.Int64
	forEachConn(conns, max(req.Concurrency, 1), func(c *idleConn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		var b [2]byte
		if _, err := c.Write(rig.MQTTPingPacket); err != nil {
			return
		}
		if _, err := io.ReadFull(c, b[:]); err == nil && b[0]>>4 == rig.MQTTPingresp {
			alive.Add(1)
		}
		c.SetDeadline(time.Time{})
	})
	return int(alive.Load())
}

func closeAll(conns []*idleConn) {
	forEachConn(conns, 64, func(c *idleConn) {
		c.SetWriteDeadline(time.Now().Add(time.Second))
		c.Write(rig.MQTTDisconnectPacket)
		c.Close()
	})
}

// forEachConn runs f on every connection from n goroutines.
func forEachConn(conns []*idleConn, n int, f func(*idleConn)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, len(conns)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(conns); i = int(next.Add(1) - 1) {
				f(conns[i])
			}
		})
	}
	wg.Wait()
}
