package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// clusterLiveConfig is the live process tests' room on a three-node R3
// cluster.
const clusterLiveConfig = `# written by cluster_live_process_test.go
engine: {replicas: 3}
clients:
  app: {roles: [live-issuer]}
live:
  rooms: [final]
  anonymous_read: true
  history: 5000
  user_rate: "off"
  flood_users: 1000
`

// TestClusterLiveViewerFailsOver: an MQTT viewer (Paho, every node listed,
// auto-reconnect) watches room final on n1 while a fan posts on n2. n1 is
// kill -9ed; the viewer reconnects to another node and keeps receiving the
// comments, and the room's history from before the kill survived on the
// other nodes, each comment once.
func TestClusterLiveViewerFailsOver(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster of real processes")
	}
	c := startClusterRig(t, 3, filepath.Join(t.TempDir(), "cloud"), clusterLiveConfig, nil)
	got := make(chan string, 256)
	o := paho.NewClientOptions().SetClientID("viewer-1").SetCleanSession(true).
		SetAutoReconnect(true).SetMaxReconnectInterval(time.Second).SetConnectRetry(true).
		SetKeepAlive(5 * time.Second).SetConnectTimeout(5 * time.Second)
	for i := range c.nodes {
		o.AddBroker("tcp://" + c.nodes[i].mqtt)
	}
	o.SetOrderMatters(false)
	o.SetOnConnectHandler(func(cl paho.Client) {
		cl.Subscribe("live/final/comments", 1, func(_ paho.Client, m paho.Message) {
			var cm struct{ Text string }
			if json.Unmarshal(m.Payload(), &cm) == nil {
				select {
				case got <- cm.Text:
				default:
				}
			}
		})
	})
	viewer := paho.NewClient(o)
	if tok := viewer.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("viewer connect: %v", tok.Error())
	}
	defer viewer.Disconnect(0)
	waitViewers(t, c.nodes[0], 1)

	poster := c.nodes[1]
	tok := poster.viewerToken("fan1")
	// The fan's phone reconnects too: a node that cannot store a post
	// while its room's stream elects a leader drops the connection (MQTT
	// 3.1.1 has no negative PUBACK).
	po := paho.NewClientOptions().AddBroker("tcp://" + poster.mqtt).AddBroker("tcp://" + c.nodes[2].mqtt).
		SetClientID("fan1-phone").SetUsername("fan1").SetPassword(tok).
		SetAutoReconnect(true).SetMaxReconnectInterval(time.Second).SetConnectTimeout(5 * time.Second)
	fan := paho.NewClient(po)
	if tk := fan.Connect(); !tk.WaitTimeout(30*time.Second) || tk.Error() != nil {
		t.Fatalf("fan connect: %v", tk.Error())
	}
	defer fan.Disconnect(0)
	postText := func(text string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			tk := fan.Publish("live/final/post", 1, false, text)
			if tk.WaitTimeout(30*time.Second) && tk.Error() == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("post %q: %v", text, tk.Error())
			}
			time.Sleep(200 * time.Millisecond) // the phone's retry back-off
		}
	}
	want := func(text string) {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for {
			select {
			case s := <-got:
				if s == text {
					return
				}
			case <-deadline:
				t.Fatalf("the viewer never received %q", text)
			}
		}
	}
	const before = 20
	for i := range before {
		postText(fmt.Sprintf("before-%d", i))
	}
	want(fmt.Sprintf("before-%d", before-1))

	c.kill9(0)
	// The viewer reconnects on its own; comments posted while it does are
	// live only (clean session), so post until one reaches it.
	deadline := time.Now().Add(2 * time.Minute)
	for k, back := 0, false; !back; k++ {
		if time.Now().After(deadline) {
			t.Fatal("the viewer received nothing from another node within 2m of the kill")
		}
		postText(fmt.Sprintf("probe-%d", k))
		select {
		case s := <-got:
			back = strings.HasPrefix(s, "probe-")
		case <-time.After(2 * time.Second):
		}
	}
	for i := range 5 {
		text := fmt.Sprintf("after-%d", i)
		postText(text)
		want(text)
	}
	for _, i := range []int{1, 2} {
		seen := readRoom(t, c.nodes[i])
		for k := range before {
			if n := seen[fmt.Sprintf("before-%d", k)]; n != 1 {
				t.Fatalf("n%d's history has before-%d %d times, want once", i+1, k, n)
			}
		}
	}
}
