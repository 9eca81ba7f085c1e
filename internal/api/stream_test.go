package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func streamRequest(client string, revoked context.Context) *http.Request {
	r := httptest.NewRequest("GET", "/v1/topics/t/stream", nil)
	return r.WithContext(WithPrincipal(r.Context(), Principal{Client: client, Revoked: revoked}))
}

// TestStreamsCapAndRevocation: the per-client cap refuses with a 429
// naming it, per client; Close frees the slot; revoking the key ends the
// stream's context.
func TestStreamsCapAndRevocation(t *testing.T) {
	s := NewStreams(2, time.Second, prometheus.NewRegistry(), "sse")
	revoked, revoke := context.WithCancel(context.Background())
	var open []*Stream
	for range 2 {
		st, err := s.Open(httptest.NewRecorder(), streamRequest("sub", revoked), "sse")
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, st)
	}
	w := httptest.NewRecorder()
	_, err := s.Open(w, streamRequest("sub", revoked), "sse")
	WriteError(w, nil, err)
	var p Problem
	_ = json.Unmarshal(w.Body.Bytes(), &p)
	if w.Code != http.StatusTooManyRequests || !strings.Contains(p.Detail, "2 open streams") {
		t.Errorf("third stream: %d %q", w.Code, p.Detail)
	}
	if got := testutil.ToFloat64(s.refused.WithLabelValues("sse")); got != 1 {
		t.Errorf("refused = %v", got)
	}
	if _, err := s.Open(httptest.NewRecorder(), streamRequest("other", nil), "sse"); err != nil {
		t.Errorf("another client is refused: %v", err)
	}
	open[0].Close()
	open[0].Close() // idempotent
	again, err := s.Open(httptest.NewRecorder(), streamRequest("sub", revoked), "sse")
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	revoke()
	for _, st := range []*Stream{open[1], again} {
		select {
		case <-st.Context().Done():
		case <-time.After(time.Second):
			t.Fatal("revocation did not end the stream's context")
		}
	}
	if got := testutil.ToFloat64(s.gauge.WithLabelValues("sse")); got != 3 {
		t.Errorf("open = %v, want 3 (revocation ends, Close releases)", got)
	}
}
