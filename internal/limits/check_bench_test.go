package limits

import (
	"fmt"
	"net/netip"
	"testing"
)

// BenchmarkCheck decides a publisher's request with 0, 10 and 1,000
// limits in force, none matching it (a mix of User-Agent patterns,
// clients, networks and routes).
func BenchmarkCheck(b *testing.B) {
	for _, n := range []int{0, 10, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			specs := map[string]Spec{}
			for i := range n {
				var m Match
				switch i % 8 {
				case 0, 1, 2:
					m.UserAgent = fmt.Sprintf("^Crawler%d/", i)
				case 3:
					m.UserAgent = fmt.Sprintf("(?i)scraper-%d", i)
				case 4:
					m.Client = fmt.Sprintf("partner-%d", i)
				case 5:
					m.Source = fmt.Sprintf("198.51.%d.%d/32", i/256%256, i%256)
				case 6:
					m.Route = fmt.Sprintf("POST /v1/topics/t%d/events", i)
				default:
					m.Source, m.Route = fmt.Sprintf("203.0.%d.0/24", i%256), "GET /v1/topics"
				}
				specs[fmt.Sprintf("l%d", i)] = Spec{Match: m, Rate: "10/s"}
			}
			lm := NewLimiter(nil, nil)
			if err := lm.Load(specs); err != nil {
				b.Fatal(err)
			}
			r := Request{Method: "POST", Path: "/v1/topics/bench/events", UserAgent: "stadion-bench/limits", Source: netip.MustParseAddr("127.0.0.1"), Client: "pub", KeyID: "0123456789abcdef"}
			b.ReportAllocs()
			for b.Loop() {
				d := lm.Check(&r)
				d.Done()
			}
		})
	}
}
