package enginetest_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
)

// TestStart runs the engine and stores through it; a second engine on the
// first one's directory finds what was stored.
func TestStart(t *testing.T) {
	dir := t.TempDir()
	eng := enginetest.Start(t, enginetest.Dir(dir), enginetest.With(func(o *engine.Options) { o.Name = "first" }))
	if eng.ClientURL() == "" {
		t.Fatal("no client listener")
	}
	ctx := context.Background()
	kv, err := eng.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := eng.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	again := enginetest.Start(t, enginetest.Dir(dir))
	kv, err = again.JS.KeyValue(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, "k"); err != nil || string(e.Value()) != "v" {
		t.Fatalf("after restart: %v %v", e, err)
	}
}

func TestOptions(t *testing.T) {
	if o := enginetest.Options(t); !o.SyncAlways || o.ClientAddr != "127.0.0.1:0" || o.DataDir == "" {
		t.Errorf("defaults: %+v", o)
	}
	if o := enginetest.Options(t, enginetest.Sync(false)); o.SyncAlways {
		t.Error("Sync(false) kept fsync on")
	}
}

// TestServer runs a bare server and connects to it by URL.
func TestServer(t *testing.T) {
	ns := enginetest.Server(t, enginetest.Sync(false))
	_, js := enginetest.Connect(t, ns.ClientURL())
	if _, err := js.AccountInfo(context.Background()); err != nil {
		t.Fatalf("JetStream: %v", err)
	}
}
