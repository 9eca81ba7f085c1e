package delivery

import (
	"fmt"
	"testing"
	"time"
)

func TestSinkRidesOutPostgresOutage(t *testing.T) {
	pg := ownPGServer(t) // this test stops and restarts it
	u := freshSchema(t, pg.url())
	r := newRig(t)
	r.topic(t, "arrivals")
	cfg := testConfig(t, fmt.Sprintf("databases:\n  main: {url: %q}\n", withParam(u, "connect_timeout", "2")), arrivalsSink)
	publishUpdates(t, r, 300, 4)
	s := startService(t, cfg, r.js, t.TempDir(), 5*time.Second)
	db := pgDB{openTestPool(t, u)}
	waitFor(t, "some rows", func() bool { return len(tableStatuses(t, db, s)) > 0 })

	if err := pg.stop(); err != nil {
		t.Fatal(err)
	}
	// Published while the database is down: newer events for every key,
	// whose statuses restart at update-1, so only sequence order decides.
	want := publishUpdates(t, r, 300, 2)
	waitFor(t, "the sink to see the outage", func() bool {
		st, _ := s.Status(t.Context(), "arrivals-db")
		return st.LastErrorAt != nil && st.Lag > 0
	})
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	db = pgDB{openTestPool(t, u)} // the old pool's connections died with the server
	waitFor(t, "the complete table after recovery", func() bool { return sameRows(tableStatuses(t, db, s), want) })
	var rows int
	if err := db.pool.QueryRow(t.Context(), "SELECT count(*) FROM arrivals").Scan(&rows); err != nil || rows != len(want) {
		t.Fatalf("rows = %d (%v), want %d", rows, err, len(want))
	}
}
