package mqtt

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/mqtt/interop"
)

// openHub is the permissive hooks of the interoperability suite: anyone
// connects, publishes anywhere and subscribes to anything but the suite's
// test/nosubscribe (its -n option); retained messages and sessions are
// the hub's.
type openHub struct{ *hub }

type openClient struct {
	h  *hub
	id string
}

func (h openHub) Authenticate(c *Connect) (Client, byte) {
	return &openClient{h: h.hub, id: c.ClientID}, Accepted
}

func (c *openClient) CanSubscribe(f string) bool { return f != "test/nosubscribe" }
func (c *openClient) Owner() string              { return "" }
func (c *openClient) Revoked() bool              { return false }
func (c *openClient) String() string             { return "client " + c.id }

func (c *openClient) Publish(m Message, done func(error)) error {
	c.h.route(m)
	if done != nil {
		done(nil)
	}
	return nil
}

// startOpen serves a Server with permissive hooks on a loopback port.
func startOpen(t *testing.T) string {
	t.Helper()
	h := &hub{watched: map[string]bool{}, retained: map[string]Message{}, sessions: map[string][]Filter{}, revoked: map[string]bool{}}
	h.srv = NewServer(openHub{h}, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go h.srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.srv.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return ln.Addr().String()
}

// TestInteropSuite runs the Paho MQTT 3.1.1 interoperability scenarios
// (internal/mqtt/interop) against this server with permissive hooks,
// which must pass all of them, and against Mosquitto started on a free
// loopback port as the reference; the figures of both are logged from
// the same run (docs/mqtt-conformance.md records them).
func TestInteropSuite(t *testing.T) {
	start := func(t *testing.T) interop.Target {
		return interop.Target{Addr: startOpen(t), KeepAlive: 1}
	}
	var stadion, mosquitto []interop.Result
	t.Run("stadion", func(t *testing.T) { stadion = interop.Run(t, start, true) })
	t.Run("mosquitto", func(t *testing.T) {
		bin := needMosquitto(t)
		mosquitto = interop.Run(t, func(t *testing.T) interop.Target {
			return interop.Target{Addr: startMosquitto(t, bin), KeepAlive: 1}
		}, false)
	})
	n := len(interop.Scenarios)
	t.Logf("interoperability suite: stadion passes %d/%d, Mosquitto %d/%d", interop.Passed(stadion), n, interop.Passed(mosquitto), n)
	for _, r := range mosquitto {
		if r.Err != nil {
			t.Logf("Mosquitto fails %q: %v", r.Scenario, r.Err)
		}
	}
}

// needMosquitto finds the mosquitto broker; CI (STADION_CI=1) installs it,
// elsewhere the test is skipped.
func needMosquitto(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"mosquitto", "/usr/sbin/mosquitto"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("STADION_CI") != "" {
		t.Fatal("mosquitto is missing: .ci/run installs the Debian package mosquitto")
	}
	t.Skip("mosquitto not installed (apt-get install mosquitto)")
	return ""
}

// startMosquitto runs a Mosquitto broker on a free loopback port with
// anonymous access, as `mosquitto -p PORT` would, until the test ends.
func startMosquitto(t *testing.T, bin string) string {
	t.Helper()
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, port, _ := net.SplitHostPort(addr)
		conf := filepath.Join(t.TempDir(), "mosquitto.conf")
		text := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n", port)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-c", conf)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		t.Cleanup(func() { cmd.Process.Kill(); <-exited })
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				return addr
			}
			select {
			case <-exited:
				deadline = time.Time{}
			case <-time.After(20 * time.Millisecond):
			}
		}
		if attempt == 2 {
			t.Fatalf("mosquitto did not listen on %s:\n%s", addr, out.String())
		}
		cmd.Process.Kill() // the port was taken meanwhile: another one
	}
}
