package mqtt

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkFanOutAcked is BenchmarkFanOut for subscribers at QoS 1 and 2
// that acknowledge what they get (PUBACK; PUBREC, then PUBCOMP for each
// PUBREL), their acks written once per read. Each delivery is numbered
// and kept in flight in the session until acknowledged; it reports
// deliveries per second and what MaxInflight dropped.
func BenchmarkFanOutAcked(b *testing.B) {
	for _, qos := range []byte{1, 2} {
		b.Run(fmt.Sprint("QoS", qos), func(b *testing.B) { benchFanOutAcked(b, qos) })
	}
}

func benchFanOutAcked(b *testing.B, qos byte) {
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
		nc.Write(AppendConnect(nil, &Connect{ClientID: "a" + itoa(i), CleanSession: true}))
		nc.Write(AppendSubscribe(nil, 1, Filter{Topic: "live/bench/comments", QoS: qos}))
		br := bufio.NewReaderSize(nc, 64<<10)
		for range 2 { // CONNACK, SUBACK
			if _, _, err := readPacket(br, 1<<20, nil); err != nil {
				b.Fatal(err)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var acks []byte
			for {
				h, body, err := readPacket(br, 1<<20, nil)
				if err != nil {
					return
				}
				switch h >> 4 {
				case typePublish:
					received.Add(1)
					p, _ := parsePublish(h&0x0f, body)
					if p.QoS == 1 {
						acks = append(acks, ackPacket(typePuback, p.PacketID)...)
					} else {
						acks = append(acks, ackPacket(typePubrec, p.PacketID)...)
					}
				case typePubrel:
					acks = append(acks, ackPacket(typePubcomp, uint16(body[0])<<8|uint16(body[1]))...)
				}
				if br.Buffered() == 0 && len(acks) > 0 {
					if _, err := nc.Write(acks); err != nil {
						return
					}
					acks = acks[:0]
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
	dropped := func() int64 { return h.srv.Stats().Dropped.Load() }
	want := int64(b.N)*batch*subscribers - dropped()
	for received.Load() < want && time.Since(start) < time.Minute {
		time.Sleep(time.Millisecond)
		want = int64(b.N)*batch*subscribers - dropped()
	}
	b.ReportMetric(float64(received.Load())/time.Since(start).Seconds(), "deliveries/s")
	b.ReportMetric(float64(dropped()), "dropped")
}
