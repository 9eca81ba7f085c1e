package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/exchange"
)

// The benchmarks drain benchRows events through a sink and write the same
// rows with a plain loop (batched INSERTs for SQLite, COPY for PostgreSQL)
// in the same run, batches of benchBatch rows per transaction in both.
// They report both rates and sink/plain.
const (
	benchRows  = 50000
	benchBatch = 500
)

const benchSink = `sinks:
  arrivals-db:
    topic: arrivals
    table: arrivals
    key: [person_id, flight]
    columns: {person_id: /personId, flight: /flight/number, eta: /flight/eta, bags: /bags, status: /status}
    batch: {size: 500, max_wait: 50ms}
`

func BenchmarkSinkSQLite(b *testing.B) {
	r := benchTopic(b)
	var sinkRate, plainRate float64
	for range b.N {
		dir := b.TempDir()
		plainRate += plainSQLite(b, filepath.Join(dir, "plain.db"))
		sinkRate += drainRate(b, r, testConfig(b, "", benchSink), dir)
	}
	reportRates(b, sinkRate, plainRate)
}

func BenchmarkSinkPostgres(b *testing.B) {
	base := postgresURL(b)
	r := benchTopic(b)
	var sinkRate, plainRate float64
	for range b.N {
		plainRate += plainCopy(b, freshSchema(b, base))
		db := fmt.Sprintf("databases:\n  main: {url: %q}\n", freshSchema(b, base))
		sinkRate += drainRate(b, r, testConfig(b, db, benchSink), b.TempDir())
	}
	reportRates(b, sinkRate, plainRate)
}

func reportRates(b *testing.B, sinkRate, plainRate float64) {
	b.ReportMetric(sinkRate/float64(b.N), "rows/s")
	b.ReportMetric(plainRate/float64(b.N), "plain-rows/s")
	b.ReportMetric(sinkRate/plainRate, "sink/plain")
	b.ReportMetric(0, "ns/op")
}

// benchTopic publishes benchRows events (untimed) to a fresh engine.
func benchTopic(b *testing.B) *rig {
	b.StopTimer()
	defer b.StartTimer()
	r := newRigSync(b, false)
	r.topic(b, "arrivals")
	var futures []jetstream.PubAckFuture
	for i := range benchRows {
		person := fmt.Sprintf("p%06d", i)
		data, _ := json.Marshal(arrival(person, "CA1", i))
		env, _ := json.Marshal(exchange.Event{SpecVersion: "1.0", ID: nats.NewInbox()[7:], Source: "/clients/bench",
			Type: "stadion.topic.arrivals", Subject: person, Time: time.Now().UTC(), DataContentType: "application/json", Data: data})
		f, err := r.js.PublishAsync("topic.arrivals."+person, env)
		if err != nil {
			b.Fatal(err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.Fatal(err)
		}
	}
	return r
}

// drainRate starts a sink (with a new consumer, from the topic's start)
// and times it from the end of Start until every row is committed.
func drainRate(b *testing.B, r *rig, cfg *config.Config, dir string) float64 {
	_ = r.js.DeleteConsumer(context.Background(), exchange.StreamName("arrivals"), ConsumerName("arrivals-db"))
	s := startService(b, cfg, r.js, dir, 0)
	start := time.Now()
	st := s.sinks["arrivals-db"].st
	for deadline := start.Add(time.Minute); ; time.Sleep(time.Millisecond) {
		var got Status
		st.snapshot(&got)
		if got.RowsWritten >= benchRows {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("drained %d of %d rows in a minute", got.RowsWritten, benchRows)
		}
	}
	rate := benchRows / time.Since(start).Seconds()
	s.Stop(context.Background())
	return rate
}

// benchRowsFor makes the rows the sink writes, for the plain loops.
func benchRowsFor() (*Table, []Row) {
	cfg := &config.Sink{Table: "arrivals", Key: []string{"person_id", "flight"}, Columns: map[string]string{
		"person_id": "/personId", "flight": "/flight/number", "eta": "/flight/eta", "bags": "/bags", "status": "/status"},
		Types: map[string]config.ColumnType{"eta": config.TypeTimestamp, "bags": config.TypeBigint}}
	t := tableFor(cfg, nil)
	m := newRowMapper(t, cfg)
	rows := make([]Row, benchRows)
	for i := range rows {
		data, _ := json.Marshal(map[string]any{"data": arrival(fmt.Sprintf("p%06d", i), "CA1", i)})
		rows[i], _ = m.row(data, uint64(i+1))
	}
	return t, rows
}

// plainSQLite inserts the rows in transactions of benchBatch multi-row
// INSERTs, on a file with the sink's settings.
func plainSQLite(b *testing.B, path string) float64 {
	tbl, rows := benchRowsFor()
	s, err := OpenSQLite(path, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.EnsureTable(context.Background(), tbl); err != nil {
		b.Fatal(err)
	}
	q := insertSQL(tbl, benchBatch)
	start := time.Now()
	for i := 0; i < len(rows); i += benchBatch {
		args := make([]any, 0, benchBatch*(len(tbl.Columns)+2))
		for _, r := range rows[i : i+benchBatch] {
			for _, v := range r.Values {
				args = append(args, sqliteValue(v))
			}
			args = append(args, int64(r.Seq), time.Now().UTC().Format(sqliteTime))
		}
		tx, err := s.db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec(q, args...); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	return benchRows / time.Since(start).Seconds()
}

// insertSQL is upsertSQL without the conflict clause.
func insertSQL(t *Table, n int) string {
	q := upsertSQL(t, n, "?")
	return q[:len(q)-len(q[indexOf(q, " ON CONFLICT"):])]
}

func indexOf(s, sub string) int {
	for i := range len(s) - len(sub) + 1 {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return len(s)
}

// plainCopy COPYs the rows in, one transaction per benchBatch rows.
func plainCopy(b *testing.B, u string) float64 {
	tbl, rows := benchRowsFor()
	ctx := context.Background()
	s, err := OpenPostgres(ctx, u)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.EnsureTable(ctx, tbl); err != nil {
		b.Fatal(err)
	}
	cols := []string{}
	for _, c := range tbl.Columns {
		cols = append(cols, c.Name)
	}
	cols = append(cols, "_seq", "_updated")
	start := time.Now()
	for i := 0; i < len(rows); i += benchBatch {
		src := make([][]any, 0, benchBatch)
		for _, r := range rows[i : i+benchBatch] {
			src = append(src, append(append([]any{}, r.Values...), int64(r.Seq), time.Now()))
		}
		if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{tbl.Name}, cols, pgx.CopyFromRows(src)); err != nil {
			b.Fatal(err)
		}
	}
	return benchRows / time.Since(start).Seconds()
}

// BenchmarkRowMapper measures the decoding of one stored event into a row,
// the part of a sink's work the plain loops do not do.
func BenchmarkRowMapper(b *testing.B) {
	tbl, _ := benchRowsFor()
	cfg := &config.Sink{Columns: map[string]string{"person_id": "/personId", "flight": "/flight/number",
		"eta": "/flight/eta", "bags": "/bags", "status": "/status"}}
	m := newRowMapper(tbl, cfg)
	data, _ := json.Marshal(arrival("p000001", "CA1", 1))
	env, _ := json.Marshal(exchange.Event{SpecVersion: "1.0", ID: "x", Source: "/clients/bench", Type: "t",
		Subject: "p000001", Time: time.Now().UTC(), DataContentType: "application/json", Data: data})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.row(env, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpsertPostgres compares, on the same rows and batches, the
// upsert the sink runs (one multi-row INSERT ... ON CONFLICT per batch)
// with COPY into a temporary table and INSERT ... SELECT ... ON CONFLICT,
// and a plain COPY; the database's side only, no stream.
func BenchmarkUpsertPostgres(b *testing.B) {
	base := postgresURL(b)
	ctx := context.Background()
	tbl, rows := benchRowsFor()
	for _, way := range []struct {
		name  string
		write func(*Postgres, []Row) error
	}{
		{"insert", func(p *Postgres, part []Row) error { return p.Upsert(ctx, tbl, part) }},
		{"copy-temp", func(p *Postgres, part []Row) error { return copyUpsert(ctx, p, tbl, part) }},
	} {
		b.Run(way.name, func(b *testing.B) {
			var rate float64
			for range b.N {
				p, err := OpenPostgres(ctx, freshSchema(b, base))
				if err != nil {
					b.Fatal(err)
				}
				if err := p.EnsureTable(ctx, tbl); err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				for i := 0; i < len(rows); i += benchBatch {
					if err := way.write(p, rows[i:i+benchBatch]); err != nil {
						b.Fatal(err)
					}
				}
				rate += benchRows / time.Since(start).Seconds()
				p.Close()
			}
			b.ReportMetric(rate/float64(b.N), "rows/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// copyUpsert is the COPY-based upsert BenchmarkUpsertPostgres measures.
func copyUpsert(ctx context.Context, p *Postgres, t *Table, rows []Row) error {
	cols := []string{}
	for _, c := range t.Columns {
		cols = append(cols, c.Name)
	}
	cols = append(cols, "_seq", "_updated")
	q := upsertSQL(t, 1, "$")
	conflict := q[indexOf(q, " ON CONFLICT"):]
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TEMP TABLE IF NOT EXISTS stage (LIKE %s) ON COMMIT DELETE ROWS", t.Name)); err != nil {
			return err
		}
		now := time.Now()
		src := make([][]any, len(rows))
		for i, r := range rows {
			src[i] = append(append(make([]any, 0, len(cols)), r.Values...), int64(r.Seq), now)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"stage"}, cols, pgx.CopyFromRows(src)); err != nil {
			return err
		}
		all := strings.Join(cols, ", ")
		_, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM stage%s", t.Name, all, all, conflict))
		return err
	})
}
