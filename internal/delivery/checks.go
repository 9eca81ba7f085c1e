package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/stadion-dev/stadion/internal/ops"
)

var _ ops.Source = (*Service)(nil)

// failingFor is how long after its last error a sink with no successful
// batch since counts as failing.
const failingFor = 2 * time.Minute

// Checks reports each sink's health: database errors (an error after its
// last committed batch), lag, dead letters and whether it is paused.
func (s *Service) Checks(ctx context.Context) []ops.Check {
	var out []ops.Check
	for _, name := range s.Names() {
		comp := "sink/" + name
		st, err := s.Status(ctx, name)
		if err != nil {
			out = append(out, ops.State(ops.SiteCloud, comp, "consumer", true, "reading the sink's consumer: "+err.Error()))
			continue
		}
		sk := s.sinks[name]
		sk.st.mu.Lock()
		failing := !sk.st.lastErrAt.IsZero() && sk.st.lastErrAt.After(sk.st.lastOKAt) && time.Since(sk.st.lastErrAt) < failingFor
		sk.st.mu.Unlock()
		detail := ""
		if failing {
			// Not the error itself: a database's message can quote row
			// values, and health is read by the metrics role too.
			detail = fmt.Sprintf("database %s refuses writes (the error: 'stadion sinks %s', admin)", st.Database, name)
		}
		dbErr := ops.State(ops.SiteCloud, comp, "db_errors", failing, detail)
		dbErr.Weight = 3
		paused := ops.State(ops.SiteCloud, comp, "paused", st.State == "paused", "paused: run 'stadion sinks resume "+name+"'")
		paused.Crit = 1 // a pause is deliberate: it costs points, it does not fail the sink
		out = append(out, dbErr, paused,
			ops.Check{Site: ops.SiteCloud, Component: comp, Name: "lag", Unit: "events", Value: float64(st.Lag), Warn: 1000, Crit: 10000, Weight: 2,
				Detail: fmt.Sprintf("events of topic %s not yet in table %s", st.Topic, st.Table)},
			ops.Check{Site: ops.SiteCloud, Component: comp, Name: "dead_letters", Unit: "events", Value: float64(st.DeadLetters), Warn: 0, Crit: 100,
				Detail: "events in " + DeadLetterStream(name) + st.deadLetters.Age(time.Now()) + ": 'stadion sinks dead-letters " + name + "'"},
		)
	}
	return out
}
