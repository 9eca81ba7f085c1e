package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestResolvePrincipalOnce: a request resolved in front of the routes
// reaches the handler as its key's client; a forged or missing key is not
// resolved and Authenticate still refuses it.
func TestResolvePrincipalOnce(t *testing.T) {
	n := startNode(t, t.TempDir())
	key, rec, err := n.keys.Create(context.Background(), "timing")
	if err != nil {
		t.Fatal(err)
	}
	var seen Principal
	h := Authenticate(n.keys, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = PrincipalFrom(r.Context())
	}))
	serve := func(token string) int {
		r := httptest.NewRequest("GET", "/v1/topics", nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		r2, p, ok := ResolvePrincipal(n.keys, r)
		if ok != (token == key) || (ok && (p.KeyID != rec.ID || p.Client != "timing")) {
			t.Fatalf("ResolvePrincipal(%q) = %+v %v", token, p, ok)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r2)
		return w.Code
	}
	if code := serve(key); code != 200 || seen.KeyID != rec.ID || seen.Client != "timing" {
		t.Fatalf("valid key: %d, principal %+v", code, seen)
	}
	for _, tok := range []string{"", keyPrefix + rec.ID + "_" + strings.Repeat("A", 43)} {
		seen = Principal{}
		if code := serve(tok); code != 401 || seen.KeyID != "" {
			t.Fatalf("token %q: %d, principal %+v", tok, code, seen)
		}
	}
}
