package live

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"testing/fstest"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/mqtt"
)

// BenchmarkModerationPipeline posts comments over MQTT (QoS 0, from 50
// viewers) through ingress, the work queue, moderation against 10,000
// banned words and the comments stream, and counts them arriving at one
// subscriber: comments/s through the whole pipeline, in one process.
func BenchmarkModerationPipeline(b *testing.B) {
	var words strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&words, "bannedword%d\n", i)
	}
	yml := `
clients:
  app: {roles: [live-issuer]}
live:
  rooms: [bench]
  anonymous_read: true
  user_rate: "off"
  flood_users: 100000
  max_length: 1000
  banned_words_file: words.txt
`
	cfg, err := config.Parse([]byte(yml), fstest.MapFS{"words.txt": {Data: []byte(words.String())}}, ".")
	if err != nil {
		b.Fatal(err)
	}
	h := startHarness(b, cfg, nil)

	sub := dialMQTT(b, h.mqtt, &mqtt.Connect{ClientID: "counter", CleanSession: true})
	sub.Write(mqtt.AppendSubscribe(nil, 1, mqtt.Filter{Topic: "live/bench/comments"}))
	var got atomic.Int64
	go func() {
		br := bufio.NewReaderSize(sub, 1<<20)
		for {
			h, err := br.ReadByte()
			if err != nil {
				return
			}
			n, shift := 0, 0
			for {
				c, _ := br.ReadByte()
				n |= int(c&0x7f) << shift
				shift += 7
				if c&0x80 == 0 {
					break
				}
			}
			br.Discard(n)
			if h>>4 == 3 {
				got.Add(1)
			}
		}
	}()
	const posters = 50
	conns := make([]net.Conn, posters)
	for i := range conns {
		conns[i] = dialMQTT(b, h.mqtt, &mqtt.Connect{ClientID: fmt.Sprint("p", i), CleanSession: true,
			Password: []byte(h.token(fmt.Sprint("u", i), "Viewer")), HasPassword: true, Username: "x"})
	}
	text := strings.Repeat("nice play ", 20)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		conns[i%posters].Write(mqtt.AppendPublish(nil, mqtt.Message{Topic: "live/bench/post", Payload: fmt.Appendf(nil, "%s %d", text, i)}, false, 0))
	}
	for got.Load() < int64(b.N) && time.Since(start) < 2*time.Minute {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(got.Load())/time.Since(start).Seconds(), "comments/s")
}

// dialMQTT connects and reads the CONNACK (and a SUBACK-free stream after).
func dialMQTT(b *testing.B, addr string, c *mqtt.Connect) net.Conn {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	nc.Write(mqtt.AppendConnect(nil, c))
	ack := make([]byte, 4)
	if _, err := nc.Read(ack); err != nil || ack[3] != 0 {
		b.Fatalf("connack %v %v", ack, err)
	}
	return nc
}
