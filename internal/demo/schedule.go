package demo

import "time"

// schedule emits each unit's schedule document: the day's programme early
// in the morning (DT_SCHEDULE), then an update (DT_SCHEDULE_UPDATE) for a
// delay and for every change of status.
func (d *day) schedule(units []*unit) {
	for i, u := range units {
		version := 0
		doc := func(docType, status string, at, start time.Duration) map[string]any {
			version++
			data := d.scheduleDoc(u, docType, status, version, at, start)
			d.emit("schedule", at, data)
			return data
		}
		published := 30*time.Minute + time.Duration(i)*time.Second
		doc("DT_SCHEDULE", "SCHEDULED", published, u.planned)
		if u.start != u.planned {
			delayed := doc("DT_SCHEDULE_UPDATE", "DELAYED", u.planned-45*time.Minute, u.start)
			delayed["reason"] = u.reason
		}
		doc("DT_SCHEDULE_UPDATE", "GETTING_READY", u.start-30*time.Minute, u.start)
		doc("DT_SCHEDULE_UPDATE", "RUNNING", u.start, u.start)
		doc("DT_SCHEDULE_UPDATE", "FINISHED", u.official, u.start)
	}
}

// scheduleDoc is a schedule document for a unit starting at start.
func (d *day) scheduleDoc(u *unit, docType, status string, version int, at, start time.Duration) map[string]any {
	return map[string]any{
		"header":  d.header(u.code, docType, u.source(), version, at),
		"unit":    u.data(),
		"venue":   u.venue.data(),
		"session": u.session,
		"status":  status,
		"start":   d.stamp(start),
		"end":     d.stamp(start + u.disc.length),
	}
}
