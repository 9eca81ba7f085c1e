package exchange

import (
	"os"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/examples/games"
	"github.com/stadion-dev/stadion/internal/config"
)

// BenchmarkPrepare measures the exchange's own work per event before the
// engine: decoding, schema validation, key extraction and the envelope,
// for a ~1 KiB results document of the bundled example.
func BenchmarkPrepare(b *testing.B) {
	benchmarkPrepare(b, 1)
}

// BenchmarkPrepareBatch is BenchmarkPrepare for a batch of 100 results
// documents (one JSON array, ~85 KiB).
func BenchmarkPrepareBatch(b *testing.B) {
	benchmarkPrepare(b, 100)
}

// BenchmarkPrepareFast is BenchmarkPrepare through the fast path (the
// compiled schema checking the body's tape, schema_fast.go), the
// candidate measured against the library's path above.
func BenchmarkPrepareFast(b *testing.B) {
	b.Run("single", func(b *testing.B) { benchmarkPrepareFast(b, 1) })
	b.Run("batch100", func(b *testing.B) { benchmarkPrepareFast(b, 100) })
}

func benchmarkPrepareFast(b *testing.B, n int) {
	x, t, raw := prepareFixture(b, n)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := x.prepareFast(t, "odf", raw, ""); !ok {
			b.Fatal("the fast path did not take the document")
		}
	}
}

func prepareFixture(b *testing.B, n int) (*Exchange, *topic, []byte) {
	cfg, err := config.Load(games.FS, "stadion.yaml")
	if err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile("../../examples/games/testdata/results.json")
	if err != nil {
		b.Fatal(err)
	}
	schemaRaw, _ := cfg.ReadFile(cfg.Topics["results"].Schema)
	sch, err := CompileSchema("results", schemaRaw)
	if err != nil {
		b.Fatal(err)
	}
	if n > 1 {
		raw = []byte("[" + strings.TrimSuffix(strings.Repeat(string(raw)+",", n), ",") + "]")
	}
	return &Exchange{cfg: cfg}, &topic{name: "results", cfg: cfg.Topics["results"], schema: sch}, raw
}

func benchmarkPrepare(b *testing.B, n int) {
	cfg, err := config.Load(games.FS, "stadion.yaml")
	if err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile("../../examples/games/testdata/results.json")
	if err != nil {
		b.Fatal(err)
	}
	schemaRaw, _ := cfg.ReadFile(cfg.Topics["results"].Schema)
	sch, err := CompileSchema("results", schemaRaw)
	if err != nil {
		b.Fatal(err)
	}
	if n > 1 {
		raw = []byte("[" + strings.TrimSuffix(strings.Repeat(string(raw)+",", n), ",") + "]")
	}
	x := &Exchange{cfg: cfg}
	t := &topic{name: "results", cfg: cfg.Topics["results"], schema: sch}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		events, batch, _, err := decodeBody(ctJSON, raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := x.prepare(t, "odf", events, false, "", batch); err != nil {
			b.Fatal(err)
		}
	}
}
