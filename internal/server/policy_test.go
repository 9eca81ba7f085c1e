package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/ops"
)

// TestEveryRouteClassified starts `up` with the bundled example (every
// capability on) and fails for a route the request policy does not
// classify, and for a keyed route that does not go through the policy (it
// must answer 401 without a key, from api.Authenticate in front of it).
func TestEveryRouteClassified(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := StartServer(ctx, ServerOptions{
		DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	routes := s.Routes()
	if len(routes) < 50 {
		t.Fatalf("only %d routes: is every capability on?", len(routes))
	}
	for _, pattern := range routes {
		rule, ok := ops.Table[pattern]
		if !ok {
			t.Errorf("route %q is not in ops.Table: classify it (read, use, operate or admin)", pattern)
			continue
		}
		if rule.Class == ops.Open {
			continue
		}
		method, path, _ := strings.Cut(pattern, " ")
		req, _ := http.NewRequest(method, s.HTTPURL+fill(path), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without a key answered %d %v, want 401: a keyed route must be registered with the auth the server passes (which runs the policy)", pattern, resp.StatusCode, body)
		}
	}
}

// fill puts a plausible value in each {name} of a path.
func fill(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, "{") {
			parts[i] = "x"
		}
	}
	return strings.Join(parts, "/")
}
