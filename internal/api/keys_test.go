package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
)

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// node is an engine with keys on a data directory; restart starts another
// on the same directory, as `stadion up` does after a stop.
type node struct {
	eng    *engine.Engine
	keys   *Keys
	log    *slog.Logger
	logs   *logBuffer
	cancel context.CancelFunc
}

func startNode(t *testing.T, dir string) *node {
	t.Helper()
	n := &node{logs: &logBuffer{}}
	n.log = slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.eng = enginetest.Start(t, enginetest.Dir(dir), enginetest.Logger(n.log),
		enginetest.With(func(o *engine.Options) { o.MaxMemory, o.MaxDisk = 32<<20, 256<<20 }))
	t.Cleanup(n.stop)
	var err error
	if n.keys, err = OpenKeys(ctx, n.eng.JS, n.log); err != nil {
		t.Fatalf("keys: %v", err)
	}
	return n
}

func (n *node) stop() {
	n.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = n.eng.Stop(ctx)
}

func secretOf(key string) string { return key[len(keyPrefix)+17:] }

func TestAdminKeyFile(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	ctx := context.Background()
	path, err := EnsureAdminKey(ctx, n.keys, dir, n.log)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, AdminKeyFile) {
		t.Errorf("path %s", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	key := strings.TrimSpace(string(raw))
	if !strings.HasPrefix(key, keyPrefix) || string(raw) != key+"\n" {
		t.Fatalf("file holds %q", raw)
	}
	rec, err := n.keys.Lookup(key)
	if err != nil || rec.Client != AdminClient {
		t.Fatalf("admin key lookup: %+v %v", rec, err)
	}

	// Restart: the same file and key, still valid, no second record.
	n.stop()
	n2 := startNode(t, dir)
	path2, err := EnsureAdminKey(ctx, n2.keys, dir, n2.log)
	if err != nil || path2 != path {
		t.Fatalf("restart: %s %v", path2, err)
	}
	raw2, _ := os.ReadFile(path)
	if !bytes.Equal(raw, raw2) {
		t.Error("the admin key changed on restart")
	}
	if rec, err := n2.keys.Lookup(key); err != nil || rec.Client != AdminClient {
		t.Errorf("after restart: %+v %v", rec, err)
	}
	if list := n2.keys.List(AdminClient); len(list) != 1 {
		t.Errorf("%d admin key records after restart, want 1", len(list))
	}

	// A file made readable by others is tightened, with a warning.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureAdminKey(ctx, n2.keys, dir, n2.log); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after EnsureAdminKey, want 0600", st.Mode().Perm())
	}
	if !strings.Contains(n2.logs.String(), "setting mode 0600") {
		t.Error("no warning about the loose mode")
	}
	for _, logs := range []string{n.logs.String(), n2.logs.String()} {
		if strings.Contains(logs, secretOf(key)) {
			t.Error("the admin key is in the log")
		}
	}
}

// A data directory whose engine state is gone but whose admin.key remains
// registers the file's key again.
func TestAdminKeyFileWithFreshEngine(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	path, err := EnsureAdminKey(context.Background(), n.keys, dir, n.log)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	n.stop()
	if err := os.RemoveAll(filepath.Join(dir, "jetstream")); err != nil {
		t.Fatal(err)
	}
	n2 := startNode(t, dir)
	if _, err := EnsureAdminKey(context.Background(), n2.keys, dir, n2.log); err != nil {
		t.Fatal(err)
	}
	if _, err := n2.keys.Lookup(strings.TrimSpace(string(raw))); err != nil {
		t.Errorf("the file's key is not registered: %v", err)
	}

	if err := os.WriteFile(path, []byte("not-a-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureAdminKey(context.Background(), n2.keys, dir, n2.log); err == nil {
		t.Error("a malformed admin.key was accepted")
	}
}

func TestKeysStoredHashed(t *testing.T) {
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	key, rec, err := n.keys.Create(ctx, "timing")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Client != "timing" || rec.ID == "" || !strings.HasPrefix(key, keyPrefix+rec.ID+"_") {
		t.Fatalf("key %q... record %+v", key[:8], rec)
	}
	entry, err := n.keys.kv.Get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored := string(entry.Value())
	if strings.Contains(stored, key) || strings.Contains(stored, secretOf(key)) {
		t.Fatal("the stored record contains the key")
	}
	var onDisk KeyRecord
	if err := json.Unmarshal(entry.Value(), &onDisk); err != nil {
		t.Fatal(err)
	}
	if onDisk.Hash != hashKey(key) || len(onDisk.Hash) != 64 || onDisk.Client != "timing" || onDisk.ID != rec.ID {
		t.Errorf("stored %+v", onDisk)
	}
	// Two keys for one client differ.
	key2, rec2, _ := n.keys.Create(ctx, "timing")
	if key2 == key || rec2.ID == rec.ID {
		t.Error("two keys are the same")
	}
	if got := n.keys.List("timing"); len(got) != 2 {
		t.Errorf("List: %d records", len(got))
	}
}

func TestKeyFilesOnDisk(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	key, _, err := n.keys.Create(context.Background(), "timing")
	if err != nil {
		t.Fatal(err)
	}
	n.stop()
	// The engine's store holds the hash, never the key.
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(raw, []byte(secretOf(key))) {
			t.Errorf("%s contains the key", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLookup(t *testing.T) {
	n := startNode(t, t.TempDir())
	key, rec, err := n.keys.Create(context.Background(), "timing")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := n.keys.Lookup(key); err != nil || got.ID != rec.ID || got.Client != "timing" {
		t.Fatalf("Lookup: %+v %v", got, err)
	}
	wrongSecret := keyPrefix + rec.ID + "_" + strings.Repeat("A", 43)
	for name, k := range map[string]string{
		"wrong secret":     wrongSecret,
		"truncated":        key[:len(key)-1],
		"extended":         key + "x",
		"empty":            "",
		"no prefix":        strings.TrimPrefix(key, keyPrefix),
		"bad id":           keyPrefix + "zzzzzzzzzzzzzzzz_" + secretOf(key),
		"unknown id":       keyPrefix + "0123456789abcdef_" + secretOf(key),
		"short secret":     keyPrefix + rec.ID + "_abc",
		"prefix only":      keyPrefix,
		"other case":       strings.ToUpper(key),
		"with white space": " " + key,
	} {
		if _, err := n.keys.Lookup(k); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("%s: Lookup = %v, want ErrUnknownKey", name, err)
		}
	}
}

func TestRevocation(t *testing.T) {
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	key, rec, err := n.keys.Create(ctx, "timing")
	if err != nil {
		t.Fatal(err)
	}
	// A second replica follows the same bucket.
	replica, err := OpenKeys(ctx, n.eng.JS, n.log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replica.Lookup(key); err != nil {
		t.Fatalf("the replica does not know the key: %v", err)
	}
	// A stream bound to the key on the replica ends with it.
	streamCtx, release := Principal{Client: "timing", KeyID: rec.ID, Revoked: replica.Revoked(rec.ID)}.Bind(ctx)
	defer release()
	told := make(chan KeyRecord, 1)
	replica.OnRevoke(func(r KeyRecord) { told <- r })
	if err := n.keys.Revoke(ctx, "other", rec.ID); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("revoking another client's key: %v", err)
	}
	if _, err := n.keys.Lookup(key); err != nil {
		t.Fatalf("a refused revocation took effect: %v", err)
	}
	if err := n.keys.Revoke(ctx, "timing", rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := n.keys.Lookup(key); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("after revocation: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := replica.Lookup(key); errors.Is(err, ErrUnknownKey) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica still accepts the revoked key")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := n.keys.Revoke(ctx, "timing", rec.ID); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("revoking twice: %v", err)
	}
	select {
	case <-streamCtx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a stream bound to the revoked key on the replica is still open")
	}
	select {
	case r := <-told:
		if r.ID != rec.ID || r.Client != "timing" {
			t.Errorf("OnRevoke got %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the replica's OnRevoke was not called")
	}
	if replica.Revoked(rec.ID).Err() == nil {
		t.Error("Revoked of a gone key is not cancelled")
	}
}

// apiServer is an HTTP server with the key routes and one authenticated route.
type apiServer struct {
	*node
	srv   *httptest.Server
	admin string
}

func startAPI(t *testing.T) *apiServer {
	t.Helper()
	dir := t.TempDir()
	n := startNode(t, dir)
	path, err := EnsureAdminKey(context.Background(), n.keys, dir, n.log)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	cfg, err := config.Parse([]byte("clients:\n  timing: {}\n"), fstest.MapFS{}, ".")
	if err != nil {
		t.Fatal(err)
	}
	mux := NewMux()
	auth := func(h http.Handler) http.Handler { return Authenticate(n.keys, h) }
	KeyRoutes(mux, n.keys, cfg, auth)
	mux.Handle("GET /whoami", auth(HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, _ := PrincipalFrom(r.Context())
		WriteJSON(w, http.StatusOK, p)
		return nil
	})))
	srv := httptest.NewServer(Recover(n.log, mux))
	t.Cleanup(srv.Close)
	return &apiServer{node: n, srv: srv, admin: strings.TrimSpace(string(raw))}
}

func (a *apiServer) do(t *testing.T, method, path, key string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, a.srv.URL+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// The key routes, revocation over HTTP, and no key in any log: key
// creation, use, failed HTTP auth and refused NATS connections.
func TestKeyRoutesAndLogs(t *testing.T) {
	a := startAPI(t)
	a.eng.SetAuthorizer(keysAuthorizer{a.keys})

	status, body := a.do(t, "POST", "/v1/clients/timing/keys", a.admin)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	var created struct{ Key, ID, Client string }
	_ = json.Unmarshal(body, &created)
	key := created.Key
	if created.Client != "timing" || !strings.HasPrefix(key, keyPrefix+created.ID+"_") {
		t.Fatalf("created %s", body)
	}

	status, body = a.do(t, "GET", "/whoami", key)
	if status != http.StatusOK || !strings.Contains(string(body), `"Client":"timing"`) {
		t.Errorf("whoami: %d %s", status, body)
	}
	status, body = a.do(t, "GET", "/v1/clients/timing/keys", a.admin)
	if status != http.StatusOK || strings.Contains(string(body), secretOf(key)) || !strings.Contains(string(body), created.ID) {
		t.Errorf("list: %d %s", status, body)
	}
	for _, tc := range []struct {
		method, path, key string
		status            int
	}{
		{"POST", "/v1/clients/timing/keys", key, http.StatusForbidden},
		{"POST", "/v1/clients/ghost/keys", a.admin, http.StatusNotFound},
		{"GET", "/whoami", "", http.StatusUnauthorized},
		{"GET", "/whoami", keyPrefix + created.ID + "_" + strings.Repeat("B", 43), http.StatusUnauthorized},
		{"DELETE", "/v1/clients/timing/keys/0123456789abcdef", a.admin, http.StatusNotFound},
	} {
		if status, body := a.do(t, tc.method, tc.path, tc.key); status != tc.status || strings.Contains(string(body), secretOf(key)) {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, status, body, tc.status)
		}
	}

	// NATS: the key gets in, a wrong one is refused.
	nc, err := nats.Connect(a.eng.ClientURL(), nats.Token(key), nats.MaxReconnects(0))
	if err != nil {
		t.Fatalf("NATS with the key: %v", err)
	}
	nc.Close()
	if nc, err := nats.Connect(a.eng.ClientURL(), nats.Token(key+"x"), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Error("NATS with a wrong key connected")
	}

	// Revocation takes effect at once, on HTTP and NATS.
	if status, body := a.do(t, "DELETE", "/v1/clients/timing/keys/"+created.ID, a.admin); status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", status, body)
	}
	if status, _ := a.do(t, "GET", "/whoami", key); status != http.StatusUnauthorized {
		t.Errorf("revoked key: %d", status)
	}
	if nc, err := nats.Connect(a.eng.ClientURL(), nats.Token(key), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Error("NATS with a revoked key connected")
	}

	logs := a.logs.String()
	if !strings.Contains(logs, "nats client refused") {
		t.Error("the refused NATS clients were not logged (is the log captured?)")
	}
	for _, secret := range []string{key, secretOf(key), a.admin, secretOf(a.admin)} {
		if strings.Contains(logs, secret) {
			t.Errorf("a key is in the log:\n%s", logs)
		}
	}
}

// keysAuthorizer admits NATS clients by their API key, as the exchange does.
type keysAuthorizer struct{ keys *Keys }

func (k keysAuthorizer) NATSAuthorize(token string) (engine.Grant, bool) {
	rec, err := k.keys.Lookup(token)
	if err != nil {
		return engine.Grant{}, false
	}
	return engine.Grant{Client: rec.Client, KeyID: rec.ID}, true
}

func (keysAuthorizer) NATSAdmitted(engine.Grant) {}
