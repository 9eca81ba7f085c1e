//go:build linux

package live

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
)

// subReaders read the subscribers' sockets with their own epoll loops, a
// few goroutines for thousands of connections, each read taking whatever
// the socket holds into one large buffer and the clock read once per
// wake-up: receiving must cost the load generator far less than sending
// costs a broker.
type subReaders struct {
	loops []*epollLoop
	next  int
	// track, set before any connection is added, keeps each
	// connection's comment numbers to count duplicates (the reconnect
	// storm).
	track  bool
	window struct{ t0, t1 atomic.Int64 } // the measured window, Unix ns
	stop   atomic.Bool
	wg     sync.WaitGroup
}

// epollLoop is one reading goroutine and its connections.
type epollLoop struct {
	r     *subReaders
	epfd  int
	mu    sync.Mutex // guards conns, hist, inWin, firstErr
	conns map[int32]*subConn
	hist  rig.Histogram
	inWin int64 // deliveries received inside the window
	total atomic.Int64
	dups  atomic.Int64 // with track: deliveries of a number already seen on the connection
	err   error
}

// subConn is a subscriber socket in non-blocking mode; pending holds a
// packet cut in two by a read.
type subConn struct {
	f       *os.File
	fd      int
	pending []byte
	out     []byte              // acknowledgements not yet written
	seen    map[uint64]struct{} // with track: the comment numbers received
}

func newSubReaders(n int) (*subReaders, error) {
	r := &subReaders{}
	for range n {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("epoll: %w", err)
		}
		l := &epollLoop{r: r, epfd: fd, conns: map[int32]*subConn{}}
		r.loops = append(r.loops, l)
		r.wg.Go(l.run)
	}
	return r, nil
}

// add moves a connected subscriber to the next loop.
func (r *subReaders) add(c net.Conn) error {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return errors.New("not a TCP connection")
	}
	f, err := tc.File() // a duplicate outside Go's poller
	tc.Close()
	if err != nil {
		return err
	}
	sc := &subConn{f: f, fd: int(f.Fd())}
	if err := syscall.SetNonblock(sc.fd, true); err != nil {
		f.Close()
		return err
	}
	l := r.loops[r.next%len(r.loops)]
	r.next++
	l.mu.Lock()
	l.conns[int32(sc.fd)] = sc
	l.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(sc.fd)}
	return syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, sc.fd, &ev)
}

func (r *subReaders) setWindow(t0, t1 int64) { r.window.t0.Store(t0); r.window.t1.Store(t1) }

// total is how many deliveries arrived in all.
func (r *subReaders) total() int64 {
	var n int64
	for _, l := range r.loops {
		n += l.total.Load()
	}
	return n
}

// conns is how many subscribers are still connected.
func (r *subReaders) conns() int {
	n := 0
	for _, l := range r.loops {
		l.mu.Lock()
		n += len(l.conns)
		l.mu.Unlock()
	}
	return n
}

// collect merges the latencies of the window into h, resets them, and
// returns how many deliveries arrived inside the window.
func (r *subReaders) collect(h *rig.Histogram) int64 {
	var n int64
	for _, l := range r.loops {
		l.mu.Lock()
		h.Merge(&l.hist)
		l.hist = rig.Histogram{}
		n += l.inWin
		l.inWin = 0
		l.mu.Unlock()
	}
	return n
}

// err is the first connection a loop lost.
func (r *subReaders) err() error {
	for _, l := range r.loops {
		l.mu.Lock()
		err := l.err
		l.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *subReaders) close() {
	r.stop.Store(true)
	r.wg.Wait()
	for _, l := range r.loops {
		for _, c := range l.conns {
			c.f.Close()
		}
		syscall.Close(l.epfd)
	}
}

func (l *epollLoop) run() {
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 512<<10)
	for !l.r.stop.Load() {
		n, err := syscall.EpollWait(l.epfd, events, 50)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			l.fail(fmt.Errorf("epoll_wait: %w", err))
			return
		}
		if n <= 0 {
			continue
		}
		now := time.Now().UnixNano()
		t0, t1 := l.r.window.t0.Load(), l.r.window.t1.Load()
		l.mu.Lock()
		for _, ev := range events[:n] {
			if c := l.conns[ev.Fd]; c != nil {
				l.read(c, buf, now, t0, t1)
			}
		}
		l.mu.Unlock()
	}
}

// read takes what one socket holds and counts its PUBLISH packets.
func (l *epollLoop) read(c *subConn, buf []byte, now, t0, t1 int64) {
	p := copy(buf, c.pending)
	n, err := syscall.Read(c.fd, buf[p:])
	if n <= 0 {
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
			return
		}
		l.drop(c, err)
		return
	}
	b := buf[:p+n]
	var count int64
	for {
		head, body, size, err := rig.NextMQTTPacket(b)
		if err != nil {
			break
		}
		b = b[size:]
		c.out = appendAcks(c.out, head, body)
		if head>>4 != rig.MQTTPublish {
			continue
		}
		count++
		payload, _ := rig.MQTTPublishPayload(head, body)
		if l.r.track {
			l.see(c, payload)
		}
		if ts := rig.SentAt(payload); ts >= t0 && ts <= t1 && t0 > 0 {
			l.hist.Record(time.Duration(now - ts))
		}
		if now >= t0 && now <= t1 {
			l.inWin++
		}
	}
	c.pending = append(c.pending[:0], b...)
	l.total.Add(count)
	l.flushAcks(c)
}

// flushAcks writes a connection's pending acknowledgements; what the
// socket does not take now goes with the next read's.
func (l *epollLoop) flushAcks(c *subConn) {
	if len(c.out) == 0 {
		return
	}
	n, err := syscall.Write(c.fd, c.out)
	if n > 0 {
		c.out = c.out[:copy(c.out, c.out[n:])]
	}
	if err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR) {
		l.drop(c, err)
	}
}

// see records a delivery's comment number on its connection.
func (l *epollLoop) see(c *subConn, payload []byte) {
	n, ok := rig.CommentNumber(payload)
	if !ok {
		return
	}
	if c.seen == nil {
		c.seen = map[uint64]struct{}{}
	}
	if _, dup := c.seen[n]; dup {
		l.dups.Add(1)
		return
	}
	c.seen[n] = struct{}{}
}

// duplicates is how many deliveries repeated a comment number on their
// connection (with track set).
func (r *subReaders) duplicates() int64 {
	var n int64
	for _, l := range r.loops {
		n += l.dups.Load()
	}
	return n
}

// drop forgets a connection the broker closed.
func (l *epollLoop) drop(c *subConn, err error) {
	if err == nil {
		err = errors.New("closed by the broker")
	}
	if l.err == nil {
		l.err = fmt.Errorf("a subscriber's connection ended: %w", err)
	}
	syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	delete(l.conns, int32(c.fd))
	c.f.Close()
}

func (l *epollLoop) fail(err error) {
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
}
