package live

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
)

// mqttSink is the trivial broker the load generator's ceiling is measured
// against, in the benchmark's own process: it accepts every CONNECT and
// SUBSCRIBE (to anything), copies each PUBLISH into the output buffer of
// every subscriber, and writes each buffer whole when its writer wakes,
// at most every sinkFlushEvery, so that under load it costs far less per
// delivery than the load generator does.
type mqttSink struct {
	l    net.Listener
	mu   sync.RWMutex
	subs []*sinkOut
	all  map[*sinkOut]bool
	wg   sync.WaitGroup
}

// sinkFlushEvery bounds how often the sink writes to one connection: at
// 2,000 subscribers, 200,000 writes/s at most, each carrying every comment
// of the last 10ms.
const sinkFlushEvery = 10 * time.Millisecond

// sinkOut is one connection's coalesced output.
type sinkOut struct {
	conn net.Conn
	mu   sync.Mutex
	buf  []byte
	wake chan struct{}
	done chan struct{} // closed when the reader ends
}

func startSink() (*liveBroker, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &mqttSink{l: l, all: map[*sinkOut]bool{}}
	s.wg.Go(s.accept)
	return &liveBroker{name: "sink", addr: l.Addr().String(), pid: os.Getpid(), comments: liveComments, post: liveComments,
		posters: anonymousPosters, stop: s.stop}, nil
}

func (s *mqttSink) stop() error {
	s.l.Close()
	s.mu.Lock()
	for o := range s.all {
		o.conn.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *mqttSink) accept() {
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		o := &sinkOut{conn: c, wake: make(chan struct{}, 1), done: make(chan struct{})}
		s.mu.Lock()
		s.all[o] = true
		s.mu.Unlock()
		s.wg.Go(func() { s.serve(o) })
		s.wg.Go(o.write)
	}
}

// serve reads one connection's packets.
func (s *mqttSink) serve(o *sinkOut) {
	defer s.forget(o)
	r := bufio.NewReaderSize(o.conn, 64<<10)
	var pkt []byte
	for {
		var err error
		if pkt, err = readMQTTPacket(r, pkt[:0]); err != nil {
			return
		}
		switch pkt[0] >> 4 {
		case rig.MQTTConnect:
			o.send([]byte{rig.MQTTConnack << 4, 2, 0, 0})
		case rig.MQTTSubscribe:
			_, body, _, _ := rig.NextMQTTPacket(pkt)
			if len(body) < 2 {
				return
			}
			o.send([]byte{rig.MQTTSuback << 4, 3, body[0], body[1], 0})
			s.mu.Lock()
			s.subs = append(s.subs, o)
			s.mu.Unlock()
		case rig.MQTTPublish:
			s.fanOut(pkt)
		case rig.MQTTPingreq:
			o.send([]byte{rig.MQTTPingresp << 4, 0})
		case rig.MQTTDisconnect:
			return
		}
	}
}

// forget drops a connection whose reader ended.
func (s *mqttSink) forget(o *sinkOut) {
	s.mu.Lock()
	delete(s.all, o)
	for i, sub := range s.subs {
		if sub == o {
			s.subs = append(s.subs[:i], s.subs[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	close(o.done)
	o.conn.Close()
}

func (s *mqttSink) fanOut(pkt []byte) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, o := range s.subs {
		o.send(pkt)
	}
}

// send queues p and wakes the writer.
func (o *sinkOut) send(p []byte) {
	o.mu.Lock()
	o.buf = append(o.buf, p...)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// write writes the queued bytes whenever woken, until the reader ends.
func (o *sinkOut) write() {
	var spare []byte
	for {
		select {
		case <-o.wake:
		case <-o.done:
			return
		}
		o.mu.Lock()
		out := o.buf
		o.buf = spare[:0]
		o.mu.Unlock()
		o.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := o.conn.Write(out); err != nil {
			o.conn.Close()
		}
		spare = out
		time.Sleep(sinkFlushEvery) // what arrives meanwhile goes in one write
	}
}

// readMQTTPacket appends the next whole packet from r to buf.
func readMQTTPacket(r *bufio.Reader, buf []byte) ([]byte, error) {
	head, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	buf = append(buf, head)
	size, mult := 0, 1
	for i := 0; ; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if i == 4 {
			return nil, errors.New("malformed remaining length")
		}
		buf = append(buf, b)
		size += int(b&0x7f) * mult
		mult *= 128
		if b&0x80 == 0 {
			break
		}
	}
	n := len(buf)
	buf = append(buf, make([]byte, size)...)
	_, err = io.ReadFull(r, buf[n:])
	return buf, err
}
