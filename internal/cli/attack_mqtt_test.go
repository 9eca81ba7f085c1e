package cli

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/stadion-dev/stadion/internal/mqtt"
)

// The MQTT attacks of issue 10 (rows 7, 8 and the MQTT part of 10), each
// run against the real binary with only what an attacker gets, beside a
// legitimate viewer that must keep receiving.

func startMQTTAttackTarget(t *testing.T) *proc {
	return startProc(t, t.TempDir(), "--config", "testdata/attack_mqtt/stadion.yaml")
}

// mqttViewer is a legitimate viewer of live/final/comments.
type mqttViewer struct {
	t    *testing.T
	p    *proc
	c    paho.Client
	got  chan string
	tok  string // the viewer token it posts with
	lost chan struct{}
}

func mqttWatch(t *testing.T, p *proc, user string) *mqttViewer {
	t.Helper()
	v := &mqttViewer{t: t, p: p, got: make(chan string, 100), tok: p.viewerToken(user), lost: make(chan struct{})}
	v.c = mqttDial(t, p, user+"-phone", user, v.tok, true, v.lost)
	tok := v.c.Subscribe("live/final/comments", 0, func(_ paho.Client, m paho.Message) {
		select {
		case v.got <- string(m.Payload()):
		default:
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("viewer subscribe: %v", tok.Error())
	}
	waitViewers(t, p, 1)
	return v
}

// mqttDial connects Paho as user with password; lost (when not nil)
// is closed when the server drops the connection.
func mqttDial(t *testing.T, p *proc, id, user, password string, clean bool, lost chan struct{}) paho.Client {
	t.Helper()
	c, err := mqttTryConnect(p, id, user, password, clean, lost)
	if err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func mqttTryConnect(p *proc, id, user, password string, clean bool, lost chan struct{}) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker("tcp://" + p.mqtt).SetClientID(id).SetCleanSession(clean).
		SetAutoReconnect(false).SetConnectRetry(false).SetKeepAlive(30 * time.Second)
	if password != "" {
		o.SetUsername(user).SetPassword(password)
	}
	if lost != nil {
		o.SetConnectionLostHandler(func(paho.Client, error) { close(lost) })
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("CONNECT not answered in 10 s")
	}
	return c, tok.Error()
}

// stillReceives posts a comment over HTTP and waits for it over MQTT.
func (v *mqttViewer) stillReceives(text string) {
	v.t.Helper()
	start := time.Now()
	body := fmt.Sprintf(`{"text":%q}`, text)
	if code := v.p.request("POST", "/v1/live/final/comments", v.tok, body, nil); code != 201 {
		v.t.Fatalf("the legitimate viewer's post: %d", code)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-v.got:
			if strings.Contains(got, text) {
				if d := time.Since(start); d > 5*time.Second {
					v.t.Fatalf("the legitimate viewer's comment took %s", d)
				}
				return
			}
		case <-v.lost:
			v.t.Fatal("the legitimate viewer was disconnected")
		case <-deadline:
			v.t.Fatalf("the legitimate viewer never received %q", text)
		}
	}
}

// mqttMetric reads one sample of /metrics (name with its labels, as
// printed), or 0 when absent.
func mqttMetric(t *testing.T, p *proc, sample string) float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", p.http+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+p.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// mqttRSS is the server process's resident memory, in bytes.
func mqttRSS(t *testing.T, p *proc) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// mqttWaitMetric polls a metric until cond holds.
func mqttWaitMetric(t *testing.T, p *proc, sample, what string, d time.Duration, cond func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		v := mqttMetric(t, p, sample)
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s is %v after %s", what, sample, v, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAttackMQTTHalfPackets: 2,000 anonymous connections with keep-alive
// 0 each send the header of a 64,000-byte PUBLISH and stop. Before, each
// held a 64 KiB buffer and a goroutine for ever. Now each holds a few KiB
// until the packet deadline (2 s here) closes it, the server's memory
// stays bounded, and a viewer beside keeps receiving comments.
func TestAttackMQTTHalfPackets(t *testing.T) {
	p := startMQTTAttackTarget(t)
	viewer := mqttWatch(t, p, "fan")
	viewer.stillReceives("before the attack")
	baseG := mqttMetric(t, p, "go_goroutines")
	baseHeap := mqttMetric(t, p, "go_memstats_heap_inuse_bytes")
	baseRSS := mqttRSS(t, p)

	const n = 2000
	connect := mqtt.AppendConnect(nil, &mqtt.Connect{Level: 4, CleanSession: true, KeepAlive: 0})
	// A PUBLISH that announces 64,000 bytes and sends the first six.
	half := []byte{0x30, 0x80, 0xf4, 0x03, 0x00, 0x04, 'l', 'i'}
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	for range n {
		c, err := net.Dial("tcp", p.mqtt)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(append(append([]byte(nil), connect...), half...)); err != nil {
			t.Fatalf("write: %v", err)
		}
		ack := make([]byte, 4)
		if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
			t.Fatalf("connack %x: %v", ack, err)
		}
	}
	held := mqttMetric(t, p, "go_memstats_heap_inuse_bytes") - baseHeap
	rss := mqttRSS(t, p) - baseRSS
	t.Logf("%d half packets open after %s: heap +%.1f MiB, RSS +%.1f MiB", n, time.Since(start).Round(time.Millisecond), held/(1<<20), float64(rss)/(1<<20))
	if held > n*24<<10 {
		t.Errorf("the half packets hold %.1f MiB of heap, want under 24 KiB each (they announce 62 KiB)", held/(1<<20))
	}
	if rss > 128<<20 {
		t.Errorf("RSS grew by %.1f MiB under the attack, want under 128 MiB", float64(rss)/(1<<20))
	}
	viewer.stillReceives("during the attack")

	// Every half packet is closed by the server within the deadline.
	for _, c := range conns {
		c.SetReadDeadline(start.Add(15 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("the server answered a half packet")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("a half packet was still open after 15 s; the deadline is 2 s")
		}
	}
	t.Logf("all closed after %s", time.Since(start).Round(time.Millisecond))
	mqttWaitMetric(t, p, `stadion_live_mqtt_closed_total{reason="packet_timeout"}`, "the closes are counted", 10*time.Second,
		func(v float64) bool { return v >= n })
	mqttWaitMetric(t, p, "go_goroutines", "the attack's goroutines end", 10*time.Second,
		func(v float64) bool { return v <= baseG+20 })
	t.Logf("goroutines back after %s", time.Since(start).Round(time.Millisecond))
	viewer.stillReceives("after the attack")
}

// TestAttackMQTTRetainedFilterFlood: one anonymous persistent session
// subscribes to 5,000 retained-topic filters. Before, each became a
// goroutine that outlived the connection for the session's hour. Now the
// filters past the session's cap (100) are refused in the SUBACK, counted
// in stadion_live_mqtt_subscribe_refused_total, and no filter costs a
// goroutine, online or offline; a viewer beside keeps receiving.
func TestAttackMQTTRetainedFilterFlood(t *testing.T) {
	p := startMQTTAttackTarget(t)
	viewer := mqttWatch(t, p, "fan")
	baseG := mqttMetric(t, p, "go_goroutines")

	hoarder := mqttDial(t, p, "hoarder", "", "", false, nil)
	granted, refused := 0, 0
	for i := 0; i < 5000; i += 500 {
		fs := map[string]byte{}
		for j := i; j < i+500; j++ {
			fs[fmt.Sprintf("live/room%d/pinned", j)] = 1
		}
		tok := hoarder.SubscribeMultiple(fs, nil)
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
		for _, code := range tok.(*paho.SubscribeToken).Result() {
			if code == 0x80 {
				refused++
			} else {
				granted++
			}
		}
	}
	if granted != 100 || refused != 4900 {
		t.Fatalf("%d filters granted and %d refused, want 100 and 4900", granted, refused)
	}
	if v := mqttMetric(t, p, `stadion_live_mqtt_subscribe_refused_total{cap="session"}`); v != 4900 {
		t.Fatalf("refusals counted: %v", v)
	}
	if g := mqttMetric(t, p, "go_goroutines"); g > baseG+30 {
		t.Fatalf("%v goroutines with the session online, %v before", g, baseG)
	}
	viewer.stillReceives("while the hoarder holds its filters")
	hoarder.Disconnect(50)
	if g := mqttMetric(t, p, "go_goroutines"); g > baseG+30 {
		t.Fatalf("%v goroutines with the session offline, %v before", g, baseG)
	}
	if w := mqttMetric(t, p, "stadion_live_mqtt_watched_filters"); w > 110 {
		t.Fatalf("%v filters watched", w)
	}
	viewer.stillReceives("after the hoarder left")
}

// mqttKey creates an API key and returns it with its id.
func mqttKey(t *testing.T, p *proc, client string) (key, id string) {
	t.Helper()
	var out struct{ Key, ID string }
	if code := p.request("POST", "/v1/clients/"+client+"/keys", p.admin, "", &out); code != 201 {
		t.Fatalf("create key for %s: %d", client, code)
	}
	return out.Key, out.ID
}

// mqttPin publishes a pinned message as a moderator.
func mqttPin(c paho.Client, text string) error {
	tok := c.Publish("live/final/pinned", 1, true, fmt.Sprintf(`{"text":%q}`, text))
	if !tok.WaitTimeout(5 * time.Second) {
		return fmt.Errorf("PUBACK not received")
	}
	return tok.Error()
}

// TestAttackRevokedModeratorPins: a moderator key is revoked while its MQTT
// connection is open. Before, the connection kept pinning messages. Now it
// is closed within a second, its will (a pin) is not published and it
// cannot reconnect; another moderator key of the same client keeps
// pinning, and viewers see only what that one pinned.
func TestAttackRevokedModeratorPins(t *testing.T) {
	p := startMQTTAttackTarget(t)
	viewer := mqttWatch(t, p, "fan")
	pinned := make(chan string, 10)
	if tok := viewer.c.Subscribe("live/final/pinned", 0, func(_ paho.Client, m paho.Message) { pinned <- string(m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	bad, badID := mqttKey(t, p, "studio")
	good, _ := mqttKey(t, p, "studio")

	lost := make(chan struct{})
	o := paho.NewClientOptions().AddBroker("tcp://"+p.mqtt).SetClientID("desk-1").SetAutoReconnect(false).
		SetUsername("studio").SetPassword(bad).SetWill("live/final/pinned", `{"text":"will of the revoked key"}`, 1, true).
		SetConnectionLostHandler(func(paho.Client, error) { close(lost) })
	attacker := paho.NewClient(o)
	if tok := attacker.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer attacker.Disconnect(0)
	moderator := mqttDial(t, p, "desk-2", "studio", good, true, nil)
	if err := mqttPin(attacker, "before the revocation"); err != nil {
		t.Fatalf("pin before the revocation: %v", err)
	}
	if got := <-pinned; !strings.Contains(got, "before the revocation") {
		t.Fatalf("pinned %s", got)
	}

	start := time.Now()
	if code := p.request("DELETE", "/v1/clients/studio/keys/"+badID, p.admin, "", nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	select {
	case <-lost:
		if d := time.Since(start); d > time.Second {
			t.Fatalf("the revoked key's connection closed after %s, want within 1 s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked key's MQTT connection stayed open")
	}
	if err := mqttPin(attacker, "after the revocation"); err == nil {
		t.Fatal("the revoked key pinned a message")
	}
	if c, err := mqttTryConnect(p, "desk-1", "studio", bad, true, nil); err == nil {
		c.Disconnect(0)
		t.Fatal("the revoked key reconnected")
	}
	if err := mqttPin(moderator, "from the other key"); err != nil {
		t.Fatalf("the other moderator key: %v", err)
	}
	if got := <-pinned; !strings.Contains(got, "from the other key") {
		t.Fatalf("viewers saw %s pinned, want the other key's message (the revoked key's will must not be sent)", got)
	}
	viewer.stillReceives("after the revocation")
}

// TestAttackRevokedViewerKeepsConnection: a viewer token's user is revoked
// with `stadion live revoke` while connected. Before, the open connection
// kept posting. Now it is closed within a second, the old token is refused
// over MQTT and HTTP, another viewer keeps receiving, and a token issued
// afterwards works.
func TestAttackRevokedViewerKeepsConnection(t *testing.T) {
	p := startMQTTAttackTarget(t)
	viewer := mqttWatch(t, p, "fan")
	old := p.viewerToken("troll")
	lost := make(chan struct{})
	troll := mqttDial(t, p, "troll-phone", "troll", old, true, lost)
	if tok := troll.Publish("live/final/post", 1, false, `{"text":"first post"}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("post before the revocation: %v", tok.Error())
	}

	start := time.Now()
	out, err := exec.Command(stadionBinary(t), "live", "revoke", "troll", "--server", p.http, "--token", p.admin).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "revoked viewer troll") {
		t.Fatalf("stadion live revoke: %v\n%s", err, out)
	}
	select {
	case <-lost:
		if d := time.Since(start); d > 1500*time.Millisecond { // includes starting the CLI
			t.Fatalf("the revoked viewer's connection closed after %s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked viewer's connection stayed open")
	}
	if c, err := mqttTryConnect(p, "troll-2", "troll", old, true, nil); err == nil {
		c.Disconnect(0)
		t.Fatal("the revoked token reconnected")
	}
	if code := p.request("POST", "/v1/live/final/comments", old, `{"text":"over HTTP"}`, nil); code != 401 {
		t.Fatalf("the revoked token posted over HTTP: %d", code)
	}
	viewer.stillReceives("after the revocation")
	time.Sleep(2 * time.Millisecond) // tokens carry milliseconds: the next is issued after the revocation
	fresh := p.viewerToken("troll")
	if c, err := mqttTryConnect(p, "troll-3", "troll", fresh, true, nil); err != nil {
		t.Fatalf("a token issued after the revocation: %v", err)
	} else {
		c.Disconnect(0)
	}
}
