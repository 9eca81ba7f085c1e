// Package enginetest is the one test harness for an embedded engine: every
// package's tests start their engine through it, so they all run it the
// same way (loopback, a free port, a store in t.TempDir(), JetStream on,
// fsync on unless a test asks otherwise, stopped when the test ends).
//
// Start runs stadion's engine (package engine), as `stadion up` does.
// Server runs a bare NATS server with JetStream, for tests that play
// separate processes connecting by URL, or an external engine; stadion's
// engine admits no outside client until an authorizer is set.
//
// It is imported by tests only.
package enginetest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/engine"
)

// stopWithin bounds the cleanup's stop of an engine or server.
const stopWithin = 30 * time.Second

type settings struct {
	sync  bool
	dir   string
	log   *slog.Logger
	edits []func(*engine.Options)
}

// Option changes how Start or Server runs the engine.
type Option func(*settings)

// Sync sets the fsync policy: true (the default, as production runs)
// fsyncs every write before it is acknowledged; false is for tests and
// benchmarks that publish their input faster without it.
func Sync(always bool) Option { return func(s *settings) { s.sync = always } }

// Dir puts the store in dir instead of a fresh t.TempDir(), for tests
// that restart an engine on the data an earlier one left.
func Dir(dir string) Option { return func(s *settings) { s.dir = dir } }

// Logger sets the engine's logger (default: discarded).
func Logger(l *slog.Logger) Option { return func(s *settings) { s.log = l } }

// With edits the engine's options after the harness's defaults (a domain,
// a leafnode listener or remote, a name, no client listener); Start only.
func With(edit func(*engine.Options)) Option {
	return func(s *settings) { s.edits = append(s.edits, edit) }
}

func apply(t testing.TB, opts []Option) settings {
	s := settings{sync: true}
	for _, o := range opts {
		o(&s)
	}
	if s.dir == "" {
		s.dir = t.TempDir()
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return s
}

// Options are the engine options Start would use, for tests that start
// the engine themselves (to see Start's error, or to start it twice).
func Options(t testing.TB, opts ...Option) engine.Options {
	t.Helper()
	s := apply(t, opts)
	o := engine.Options{
		DataDir: s.dir, ClientAddr: "127.0.0.1:0", SyncAlways: s.sync,
		MaxMemory: 64 << 20, MaxDisk: 1 << 30, Logger: s.log,
	}
	for _, edit := range s.edits {
		edit(&o)
	}
	return o
}

// Start runs stadion's embedded engine until the test ends: client
// listener on a free loopback port, store in t.TempDir(), fsync always,
// JetStream limits of 64 MiB memory and 1 GiB disk. Stopping it earlier
// is allowed; the cleanup's second stop does nothing.
func Start(t testing.TB, opts ...Option) *engine.Engine {
	t.Helper()
	o := Options(t, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	eng, err := engine.Start(ctx, o)
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopWithin)
		defer cancel()
		if err := eng.Stop(ctx); err != nil {
			t.Errorf("engine stop: %v", err)
		}
	})
	return eng
}

// Server runs a bare NATS server with JetStream until the test ends: a
// free loopback port, store in t.TempDir(), fsync always. Clients connect
// to its ClientURL() as separate processes would.
func Server(t testing.TB, opts ...Option) *server.Server {
	t.Helper()
	s := apply(t, opts)
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: s.dir, SyncAlways: s.sync,
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go ns.Start()
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	if !ns.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats server not ready within 30s")
	}
	return ns
}

// Connect opens a connection to url and its JetStream context, closed when
// the test ends, as another process would.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}
