package mqtt

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMosquittoClients publishes and subscribes with mosquitto_pub and
// mosquitto_sub at QoS 0, 1 and 2 (skipped where they are not
// installed): every message arrives once, at the lower of the publish's
// QoS and the subscription's.
func TestMosquittoClients(t *testing.T) {
	if _, err := exec.LookPath("mosquitto_sub"); err != nil {
		t.Skip("mosquitto clients not installed")
	}
	hb, addr, count := countingHub(t, Options{})
	host, port, _ := net.SplitHostPort(addr)
	for _, subQoS := range []int{0, 1, 2} {
		t.Run(fmt.Sprint("subscribed at QoS ", subQoS), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			topic := fmt.Sprintf("room/s%d/comments", subQoS)
			sub := exec.CommandContext(ctx, "mosquitto_sub", "-h", host, "-p", port, "-q", fmt.Sprint(subQoS),
				"-t", topic, "-C", "3", "-F", "%q %p")
			var out strings.Builder
			sub.Stdout = &out
			if err := sub.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "mosquitto_sub subscribes", func() bool { return hb.srv.Subscribers(topic) == 1 })
			for _, q := range []int{0, 1, 2} {
				payload := fmt.Sprintf("s%d-q%d", subQoS, q)
				pub := exec.CommandContext(ctx, "mosquitto_pub", "-h", host, "-p", port, "-q", fmt.Sprint(q),
					"-u", "poster", "-P", "secret", "-t", topic, "-m", payload)
				if b, err := pub.CombinedOutput(); err != nil {
					t.Fatalf("mosquitto_pub -q %d: %v %s", q, err, b)
				}
			}
			if err := sub.Wait(); err != nil {
				t.Fatalf("mosquitto_sub: %v (got %q)", err, out.String())
			}
			var want []string
			for _, q := range []int{0, 1, 2} {
				want = append(want, fmt.Sprintf("%d s%d-q%d", min(q, subQoS), subQoS, q))
				if n := count(fmt.Sprintf("s%d-q%d", subQoS, q)); n != 1 {
					t.Errorf("s%d-q%d handed on %d times", subQoS, q, n)
				}
			}
			if got := strings.Split(strings.TrimSpace(out.String()), "\n"); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("mosquitto_sub printed %q, want %q", got, want)
			}
		})
	}
}
