package live

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/mqtt"
)

// BenchmarkCommentLatency posts one comment at a time over MQTT (QoS 0)
// and waits until a subscriber of the room reads it: the time from post
// to delivery through ingress, the posts stream (fsync on every write, as
// `stadion up` runs by default), moderation and fan-out, with the
// pipeline idle between comments, as it is at a few dozen comments/s
// (comments are 5 ms apart at least, past ingress's linger). It reports
// the p50 and p99 of those times.
func BenchmarkCommentLatency(b *testing.B) {
	yml := `
clients:
  app: {roles: [live-issuer]}
live:
  rooms: [bench]
  anonymous_read: true
  user_rate: "off"
  flood_users: 100000
  max_length: 1000
`
	cfg, err := config.Parse([]byte(yml), fstest.MapFS{}, ".")
	if err != nil {
		b.Fatal(err)
	}
	h := startHarness(b, cfg, nil)
	sub := dialMQTT(b, h.mqtt, &mqtt.Connect{ClientID: "viewer", CleanSession: true})
	sub.Write(mqtt.AppendSubscribe(nil, 1, mqtt.Filter{Topic: "live/bench/comments"}))
	br := bufio.NewReader(sub)
	poster := dialMQTT(b, h.mqtt, &mqtt.Connect{ClientID: "poster", CleanSession: true,
		Password: []byte(h.token("u1", "Viewer")), HasPassword: true, Username: "x"})
	text := strings.Repeat("nice play ", 20)
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		time.Sleep(5 * time.Millisecond) // pacing, not waiting: the pipeline idles between comments
		marker := fmt.Sprintf("n=%d;", i)
		start := time.Now()
		poster.Write(mqtt.AppendPublish(nil, mqtt.Message{Topic: "live/bench/post", Payload: []byte(text + marker)}, false, 0))
		sub.SetReadDeadline(start.Add(10 * time.Second))
		for {
			h, body, err := readBenchPacket(br)
			if err != nil {
				b.Fatalf("comment %d not delivered: %v", i, err)
			}
			if h>>4 == 3 && strings.Contains(string(body), marker) {
				break
			}
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}

// readBenchPacket reads one MQTT packet: its first byte and body.
func readBenchPacket(br *bufio.Reader) (byte, []byte, error) {
	h, err := br.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, shift := 0, 0
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n |= int(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			break
		}
	}
	body := make([]byte, n)
	_, err = io.ReadFull(br, body)
	return h, body, err
}
