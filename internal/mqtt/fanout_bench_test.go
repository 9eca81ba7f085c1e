package mqtt

import (
	"bufio"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkFanOut measures the server's side of fan-out: batches of ten
// 200-byte comments delivered to 2,000 QoS 0 subscribers on loopback, the
// subscribers only counting packets. It reports deliveries per second.
func BenchmarkFanOut(b *testing.B) {
	const subscribers, batch = 2000, 10
	h, addr := startHubB(b)
	var received atomic.Int64
	var wg sync.WaitGroup
	for i := range subscribers {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		nc.Write(AppendConnect(nil, &Connect{ClientID: "s" + string(rune('a'+i%26)) + itoa(i), CleanSession: true}))
		nc.Write(AppendSubscribe(nil, 1, Filter{Topic: "live/bench/comments"}))
		br := bufio.NewReaderSize(nc, 64<<10)
		for range 2 { // CONNACK, SUBACK
			if _, _, err := readPacket(br, 1<<20, nil); err != nil {
				b.Fatal(err)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				h, _, err := readPacket(br, 1<<20, nil)
				if err != nil {
					return
				}
				if h>>4 == typePublish {
					received.Add(1)
				}
			}
		}()
	}
	for h.srv.Subscribers("live/bench/comments") < subscribers {
		time.Sleep(time.Millisecond)
	}
	payloads := make([][]byte, batch)
	for i := range payloads {
		payloads[i] = make([]byte, 200)
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		h.srv.Deliver("live/bench/comments", "live/bench/comments", payloads)
	}
	want := int64(b.N) * batch * subscribers
	for received.Load() < want && time.Since(start) < time.Minute {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(received.Load())/time.Since(start).Seconds(), "deliveries/s")
	b.ReportMetric(float64(h.srv.Stats().Dropped.Load()), "dropped")
}

func startHubB(b *testing.B) (*hub, string) {
	h := &hub{watched: map[string]bool{}, retained: map[string]Message{}, sessions: map[string][]Filter{}, revoked: map[string]bool{}}
	h.srv = NewServer(h, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go h.srv.Serve(ln)
	b.Cleanup(func() { ln.Close() })
	return h, ln.Addr().String()
}

func itoa(i int) string {
	var buf [20]byte
	n := len(buf)
	for {
		n--
		buf[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(buf[n:])
		}
	}
}
