package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/api"
)

func TestSystemPublish(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()

	r, err := h.x.Publish(ctx, "laps", "gate", []byte(`{"athlete":"NOR-1","n":1,"ms":61000}`), "scan-1")
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if r.Topic != "laps" || r.Seq != 1 || r.Duplicate {
		t.Fatalf("receipt %+v, want laps seq 1", r)
	}
	again, err := h.x.Publish(ctx, "laps", "gate", []byte(`{"athlete":"NOR-1","n":1,"ms":61000}`), "scan-1")
	if err != nil {
		t.Fatalf("repeat: %v", err)
	}
	if !again.Duplicate || again.ID != r.ID || again.Seq != r.Seq {
		t.Fatalf("repeat receipt %+v, want the original %+v as a duplicate", again, r)
	}

	msg, err := h.x.topics["laps"].stream.GetMsg(ctx, 1)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	var ev struct {
		Source  string          `json:"source"`
		Subject string          `json:"subject"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(msg.Data, &ev); err != nil {
		t.Fatalf("envelope: %v", err)
	}
	if ev.Source != "/clients/gate" || ev.Subject != "NOR-1" || !strings.Contains(string(ev.Data), `"ms":61000`) {
		t.Fatalf("envelope %+v", ev)
	}

	t.Run("schema violation", func(t *testing.T) {
		_, err := h.x.Publish(ctx, "laps", "gate", []byte(`{"athlete":"nope"}`), "")
		var p *api.Problem
		if !errors.As(err, &p) || p.Status != 422 && p.Status != 400 {
			t.Fatalf("err %v, want a validation problem", err)
		}
	})
	t.Run("unknown topic", func(t *testing.T) {
		if _, err := h.x.Publish(ctx, "nope", "gate", []byte(`{}`), ""); err == nil {
			t.Fatal("want an error for an unknown topic")
		}
	})
	t.Run("not json", func(t *testing.T) {
		if _, err := h.x.Publish(ctx, "notes", "gate", []byte(`{`), ""); err == nil {
			t.Fatal("want an error for broken JSON")
		}
	})
}
