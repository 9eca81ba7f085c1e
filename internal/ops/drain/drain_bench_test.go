package drain

import (
	"fmt"
	"strings"
	"testing"
)

func benchLines() []string {
	shapes := []string{
		"publish accepted topic=results seq=%d id=%08x",
		"webhook delivery failed subscription=sub-%d status=503 attempt=%d",
		"sink batch written sink=results-db rows=%d took=%dms",
		"client connected from 10.0.%d.%d:51234",
		"viewer %d joined room medals at offset %d",
	}
	out := make([]string, 5000)
	for i := range out {
		out[i] = fmt.Sprintf(shapes[i%len(shapes)], i*7919%100000, i%97)
	}
	return out
}

// BenchmarkMinerAdd mines server-shaped lines; compare with
// BenchmarkFieldsBaseline, a plain regex-free tokenizer loop.
func BenchmarkMinerAdd(b *testing.B) {
	lines := benchLines()
	m := New(Options{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Add(lines[i%len(lines)])
	}
}

func BenchmarkFieldsBaseline(b *testing.B) {
	lines := benchLines()
	n := 0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		n += len(strings.Fields(lines[i%len(lines)]))
	}
	if n == 0 {
		b.Fatal("no tokens")
	}
}
