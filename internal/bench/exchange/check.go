package exchange

import (
	"fmt"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/config"
)

// exchangeChecks are the targets for one durability.
func exchangeChecks(o exchangeOptions, m *exchangeMode) []rig.Check {
	a, b, c, d, e, f, g := m.phase("a"), m.phase("b"), m.phase("c"), m.phase("d"), m.phase("e"), m.phase("f"), m.phase("g")
	var ratioNote, rateNote string
	if o.publishers != 64 {
		ratioNote = "target set for 64 publishers"
	}
	if o.rate != 2000 {
		rateNote = "target set for 2000/s"
	}
	if e.EventsPerSec < 0.95*o.rate {
		rateNote = rig.Join(rateNote, fmt.Sprintf("only %s/s achieved", cmdio.Thousands(e.EventsPerSec)))
	}
	rateNote = rig.Join(rateNote, "raw JetStream (f): "+f.lat(f.Latency.P99))
	// Issue 18: with durability always, concurrent writers share fsyncs,
	// so HTTP from N clients must reach twice raw per-message publishing
	// (each message its own fsync); with fast, the HTTP path's own CPU
	// decides the ratios.
	ba, cd := 2.0, 0.6
	if m.Durability == string(config.DurabilityFast) {
		ba, cd = 0.6, 0.7
	}
	return []rig.Check{
		rig.NewCheck("b/a  HTTP single / raw publish", ratio(b, a), "", ba, false, rig.Join(rig.Join(ratioNote, floorNote(a, g)), errNote(a, b))),
		rig.NewCheck("c/d  HTTP batch / raw async", ratio(c, d), "", cd, false, errNote(c, d)),
		rig.NewCheck(fmt.Sprintf("p99 of (e) at %g/s offered", o.rate), e.Latency.P99, "ms", 10, true, rig.Join(rateNote, errNote(e))),
		rig.NewCheck("idle RSS of stadion up", cmdio.MiB(m.IdleRSS), "MiB", 120, true, ""),
		rig.NewCheck("cold start to /readyz 200", m.ColdStartMS/1000, "s", 2, true, ""),
	}
}

// floorNote says how far HTTP can go at all: the floor (g) against raw
// publishing, the most b/a could be with no handler work.
func floorNote(a, g phaseResult) string {
	if g.EventsPerSec == 0 || a.EventsPerSec == 0 {
		return ""
	}
	return fmt.Sprintf("HTTP floor (g) %.2f of (a)", ratio(g, a))
}

func ratio(num, den phaseResult) float64 {
	if den.EventsPerSec == 0 {
		return 0
	}
	return num.EventsPerSec / den.EventsPerSec
}

// errNote mentions errors in the phases a check compares: their figures
// count only the requests that succeeded.
func errNote(ps ...phaseResult) string {
	var n int64
	for _, p := range ps {
		n += p.Errors
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d failed requests", n)
}
