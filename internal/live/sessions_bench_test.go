package live

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
)

// stormSizes are the storms to run: 100 and 500 sessions, or the sizes
// in STADION_STORM_SESSIONS (e.g. "2000,10000").
func stormSizes() []int {
	env := os.Getenv("STADION_STORM_SESSIONS")
	if env == "" {
		return []int{100, 500}
	}
	var out []int
	for f := range strings.SplitSeq(env, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// BenchmarkReconnectStorm: persistent sessions (QoS 1) each owed the
// same 10 comments reconnect at once; each reads and acknowledges its 10.
// It reports the time from the first CONNECT to the last comment
// acknowledged. Each resume reads the session's entry, claims it, opens
// an ordered consumer on LIVE_COMMENTS and replays from its mark. The
// figure is the machine's: on a shared 2-core runner it is noisy.
func BenchmarkReconnectStorm(b *testing.B) {
	for _, sessions := range stormSizes() {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) {
			cfg, err := config.Parse([]byte(sessionsConfig), fstest.MapFS{}, ".")
			if err != nil {
				b.Fatal(err)
			}
			cfg.Live.MQTT.MaxOfflineMessages = 1000
			cfg.Live.MQTT.MaxAnonymousSessions = 100_000
			h := startHarness(b, cfg, nil)
			poster := h.token("storm", "Storm")
			var drain time.Duration
			for round := range b.N {
				for i := range sessions {
					c, _ := dialSession(b, h.mqtt, fmt.Sprintf("storm-%d-%d", round, i))
					c.subscribe("live/curling/comments", 1)
					c.nc.Close()
				}
				for i := range 10 {
					h.postComments(poster, fmt.Sprintf("owed %d.%d", round, i))
				}
				start := time.Now()
				var wg sync.WaitGroup
				errs := make(chan error, sessions)
				for i := range sessions {
					wg.Add(1)
					go func() {
						defer wg.Done()
						defer func() {
							if r := recover(); r != nil {
								errs <- fmt.Errorf("%v", r)
							}
						}()
						// Keep-alive 0 and a long wait: a storm takes its time
						// on a small machine, and these clients do not ping.
						c, code, present := dialKeepAlive(b, h.mqtt, fmt.Sprintf("storm-%d-%d", round, i), "", 0)
						if code != 0 {
							errs <- fmt.Errorf("session %d refused: CONNACK %d", i, code)
							return
						}
						if !present {
							errs <- fmt.Errorf("session %d not present", i)
							return
						}
						for _, p := range c.publishes(10) {
							c.ack(4, p.id)
						}
					}()
				}
				wg.Wait()
				drain += time.Since(start)
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
			}
			b.ReportMetric(drain.Seconds()/float64(b.N), "s/drain")
			b.ReportMetric(float64(sessions*10*b.N)/drain.Seconds(), "msgs/s")
			b.ReportMetric(float64(sessions*b.N)/drain.Seconds(), "resumes/s")
			st := h.s.mqtt.Stats()
			b.ReportMetric(float64(st.FeedRetries.Load()), "feed-retries")
			b.ReportMetric(float64(st.Refused.Load()+st.SlowClosed.Load()+st.Full.Load()), "refused+closed")
		})
	}
}
