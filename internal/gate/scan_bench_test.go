package gate

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkScan measures POST /v1/scan on an in-process edge from parallel
// clients: decode, signature check, durable group write, answer. The
// command `stadion bench gate` measures the same across processes.
func BenchmarkScan(b *testing.B) {
	c := startCloud(b)
	e := startEdge(b, "bird-nest", tempDir(b, "edge"), c.eng.LeafURL(), c.credentials(b, "bird-nest"))
	codes := make([]string, 0, 2000)
	for len(codes) < 2000 {
		var out struct{ Tickets []Issued }
		reqs := make([]TicketRequest, 500)
		for i := range reqs {
			reqs[i] = session("bird-nest")
		}
		body, _ := json.Marshal(map[string]any{"tickets": reqs})
		req, _ := http.NewRequest("POST", c.url+"/v1/tickets", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+c.admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		for _, t := range out.Tickets {
			codes = append(codes, t.Code)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(e.edge.ctl.summary().Keys) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			body, _ := json.Marshal(ScanRequest{Code: codes[int(i)%len(codes)], Gate: "north-1", Direction: "in"})
			req, _ := http.NewRequest("POST", e.url+"/v1/scan", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+e.admin)
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			var r ScanResult
			_ = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if r.Decision == "" {
				b.Error("no decision")
				return
			}
		}
	})
}
