package exchange

// Counter counts the stadion processes that share the engine (the
// engine's Presence). Count is at least 1 and safe from any goroutine.
type Counter interface {
	Count() int
}

// CountProcesses makes push subscriptions divide max_in_flight among the
// processes c counts; without it each process allows the whole
// max_in_flight. Safe at any time.
func (x *Exchange) CountProcesses(c Counter) { x.processes.Store(&c) }

// inFlightShare is this process's part of a push subscription's
// max_in_flight. Unordered push runs on every process, so each takes
// max_in_flight / N (at least 1: with more processes than max_in_flight
// the receiver may see up to N calls at once). An ordered_by_key
// subscription is pinned to one process, which takes all of it.
func (x *Exchange) inFlightShare(p *Push) int {
	c := x.processes.Load()
	if p.OrderedByKey || c == nil {
		return p.MaxInFlight
	}
	return max(1, p.MaxInFlight/max(1, (*c).Count()))
}
