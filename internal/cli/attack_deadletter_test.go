package cli

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestAttackDeadLetterSpoofedConsumer: a subscriber with a plain NATS key
// makes a consumer of its own whose metadata names another client's HTTP
// subscription, with a delivery limit of 1, and gives up events on it,
// hoping the engine's max-deliveries advisories put them into the
// victim's dead letters (or crowd out the victim's own). Against the real
// binary: the victim's dead letters hold exactly its own event, which
// appears without the victim pulling again.
func TestAttackDeadLetterSpoofedConsumer(t *testing.T) {
	p := natsisoUp(t)
	ctx := natsisoCtx(t)
	timing, board := p.createKey("timing"), p.createKey("board")
	_, js := natsisoConnect(t, p, p.createKey("screens"))
	spoof, err := js.CreateOrUpdateConsumer(ctx, "TOPIC_laps", jetstream.ConsumerConfig{
		Durable: "screens-spoof", FilterSubject: "topic.laps.>", AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: time.Second, MaxDeliver: 1, DeliverPolicy: jetstream.DeliverNewPolicy,
		Metadata: map[string]string{"stadion.subscription": "victim"},
	})
	if err != nil {
		t.Fatalf("the attacker's consumer: %v", err)
	}
	const n = 20
	natsisoPublish(t, p, timing, 0, n)
	// The attacker takes each event and gives it up (nak at its only
	// attempt; its next pull makes the engine announce it).
	given := 0
	for deadline := time.Now().Add(30 * time.Second); given < n; {
		if time.Now().After(deadline) {
			t.Fatalf("the attacker took %d of %d events", given, n)
		}
		b, err := spoof.Fetch(n, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			_ = m.Nak()
			given++
		}
	}
	// Pull until the engine has given every one of them up (and announced it).
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, _ = spoof.Fetch(1, jetstream.FetchMaxWait(time.Second))
		info, err := spoof.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumAckPending == 0 && info.NumPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the attacker's events not given up: %d in flight", info.NumAckPending)
		}
	}

	// The victim's own event, taken once and never settled: its only
	// attempt fails and it becomes the victim's one dead letter.
	if code := p.request("PUT", "/v1/subscriptions/victim", board,
		`{"topic":"laps","start":"latest","ack_wait":"1s","retry":{"schedule":["1s"],"max_attempts":1}}`, nil); code != 201 {
		t.Fatalf("victim's subscription: %d", code)
	}
	natsisoPublish(t, p, timing, 100, 1)
	var got struct {
		Events []struct {
			AckID string `json:"ack_id"`
		} `json:"events"`
	}
	if code := p.request("POST", "/v1/subscriptions/victim/pull", board, `{"max":10,"wait":"10s"}`, &got); code != 200 || len(got.Events) != 1 {
		t.Fatalf("victim's pull: %d, %d events", code, len(got.Events))
	}
	var dls struct {
		DeadLetters []struct {
			Seq   uint64         `json:"seq"`
			Event map[string]any `json:"event"`
		} `json:"dead_letters"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code := p.request("GET", "/v1/subscriptions/victim/dead-letters", board, "", &dls); code != 200 {
			t.Fatalf("dead letters: %d", code)
		}
		if len(dls.DeadLetters) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the victim's own event was not dead-lettered within 60s without a pull")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The advisories are handled in order: the attacker's came first.
	if len(dls.DeadLetters) != 1 {
		t.Fatalf("%d dead letters in the victim's store, want its own 1: %+v", len(dls.DeadLetters), dls.DeadLetters)
	}
	if data, _ := dls.DeadLetters[0].Event["data"].(map[string]any); fmt.Sprint(data["athlete"]) != "NOR-100" {
		t.Fatalf("the victim's dead letter is not its event: %+v", dls.DeadLetters[0])
	}
}
