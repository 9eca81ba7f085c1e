package cli

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats-server/v2/server"
)

// sessionClient connects a persistent MQTT session (cleanSession=false)
// to a process and subscribes it to the final's comments at QoS 1, once,
// unless resume; with noAck it never acknowledges what it receives. Each
// message goes to got, in the order received.
func sessionClient(t *testing.T, p *proc, id, token string, noAck, resume bool) (paho.Client, chan paho.Message) {
	t.Helper()
	got := make(chan paho.Message, 1000)
	o := paho.NewClientOptions().AddBroker("tcp://" + p.mqtt).SetClientID(id).SetCleanSession(false).
		SetUsername("v").SetPassword(token).SetAutoReconnect(false).SetConnectRetry(false).
		SetAutoAckDisabled(noAck).SetOrderMatters(true)
	o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- m })
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s to %s: %v", id, p.mqtt, tok.Error())
	}
	if present := tok.(*paho.ConnectToken).SessionPresent(); present != resume {
		t.Fatalf("%s: session present %v, want %v", id, present, resume)
	}
	if !resume {
		st := c.Subscribe("live/final/comments", 1, nil)
		if !st.WaitTimeout(20*time.Second) || st.Error() != nil {
			t.Fatalf("subscribe: %v", st.Error())
		}
	}
	return c, got
}

// post posts texts to the final through p's HTTP API, each stored
// before the next.
func (p *proc) post(token string, texts ...string) {
	p.t.Helper()
	for _, text := range texts {
		if code := p.request("POST", "/v1/live/final/comments", token, fmt.Sprintf(`{"text":%q}`, text), nil); code != 200 && code != 201 {
			p.t.Fatalf("post %q: %d", text, code)
		}
	}
}

// expectComments reads len(want) messages from got: their texts in order, and
// whether each was flagged DUP.
func expectComments(t *testing.T, who string, got <-chan paho.Message, want []string, dup []bool) {
	t.Helper()
	for i, w := range want {
		select {
		case m := <-got:
			text := string(m.Payload())
			if !strings.Contains(text, fmt.Sprintf(`"text":%q`, w)) {
				t.Fatalf("%s: message %d is %s, want %q", who, i, text, w)
			}
			if dup != nil && m.Duplicate() != dup[i] {
				t.Errorf("%s: %q DUP %v, want %v", who, w, m.Duplicate(), dup[i])
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: waited 30s for %q (message %d)", who, w, i)
		}
	}
	select {
	case m := <-got:
		t.Fatalf("%s: unexpected %s", who, m.Payload())
	case <-time.After(300 * time.Millisecond): // nothing more is owed
	}
}

// TestPersistentSessionSurvivesKill9 runs two stadion processes on one
// engine. One persistent subscriber leaves A (unacknowledged comments in
// flight) and misses comments while away; another is still on A, with
// comments in flight, when A is killed with SIGKILL. Both come back on
// B: everything owed arrives, in order, what was sent before with DUP.
// Then the offline bound: a session away while more than
// live.mqtt.max_offline_messages comments are posted gets the newest,
// and the metric counts the others.
func TestPersistentSessionSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two stadion processes; the full suite (CI's first pass) runs it")
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), SyncAlways: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("engine not ready")
	}
	ext := []string{"--config", "testdata/live/sessions.yaml", "--nats-url", ns.ClientURL(), "--nats", ""}
	a := startProc(t, t.TempDir(), ext...)
	b := startProc(t, t.TempDir(), ext...)
	poster := a.viewerToken("poster")

	left, leftGot := sessionClient(t, a, "phone-left", a.viewerToken("fan1"), true, false)
	stayed, stayedGot := sessionClient(t, a, "phone-stayed", a.viewerToken("fan2"), true, false)
	a.post(poster, "a1", "a2", "a3")
	expectComments(t, "left, on A", leftGot, []string{"a1", "a2", "a3"}, []bool{false, false, false})
	expectComments(t, "stayed, on A", stayedGot, []string{"a1", "a2", "a3"}, []bool{false, false, false})
	left.Disconnect(100) // gone, three comments unacknowledged
	b.post(poster, "b1", "b2")
	a.cmd.Process.Kill()
	<-a.exited
	stayed.Disconnect(0) // its connection died with A; this only stops the client

	_, leftGot = sessionClient(t, b, "phone-left", b.viewerToken("fan1"), false, true)
	expectComments(t, "left, back on B", leftGot, []string{"a1", "a2", "a3", "b1", "b2"}, []bool{true, true, true, false, false})
	_, stayedGot = sessionClient(t, b, "phone-stayed", b.viewerToken("fan2"), false, true)
	// A died before saving what it sent: the comments come again, with
	// DUP: all five had been sent to it on A (b1 and b2 while A lived).
	expectComments(t, "stayed, back on B", stayedGot, []string{"a1", "a2", "a3", "b1", "b2"}, []bool{true, true, true, true, true})

	// The offline bound: 25 comments while away, 20 kept.
	away, _ := sessionClient(t, b, "phone-away", b.viewerToken("fan3"), false, false)
	away.Disconnect(100)
	var texts []string
	for i := range 25 {
		texts = append(texts, fmt.Sprintf("c%02d", i))
	}
	before := metric(t, b, "stadion_live_mqtt_offline_dropped_total")
	b.post(poster, texts...)
	_, awayGot := sessionClient(t, b, "phone-away", b.viewerToken("fan3"), false, true)
	expectComments(t, "away, back", awayGot, texts[5:], nil)
	if n := metric(t, b, "stadion_live_mqtt_offline_dropped_total") - before; n != 5 {
		t.Fatalf("offline dropped %v, want 5", n)
	}
}

// metric reads a counter of p's /metrics.
func metric(t *testing.T, p *proc, name string) float64 {
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
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}
