package gate

import (
	"context"
	"fmt"
	"time"

	"github.com/stadion-dev/stadion/internal/ops"
)

var _ ops.Source = (*Cloud)(nil)

// Checks reports each venue as a site of its own (component gate/<venue>):
// link state, seconds since last contact, scans stored at the edge and
// not yet in the cloud, clock skew, configuration versions behind; and the
// active ticket-signing key's age in the cloud.
func (c *Cloud) Checks(ctx context.Context) []ops.Check {
	var out []ops.Check
	for _, venue := range c.cfg.VenueNames() {
		v, ok := c.views[venue]
		if !ok {
			continue
		}
		out = append(out, v.checks(ctx)...)
	}
	if k, ok := c.signer.active(); ok {
		age := time.Since(k.Created).Hours() / 24
		out = append(out, ops.Check{Site: ops.SiteCloud, Component: "keys", Name: "signing_key_age", Unit: "days", Value: age, Warn: 180, Crit: 365,
			Detail: fmt.Sprintf("ticket signing key %d created %s: rotate it with POST /v1/tickets/keys/rotate", k.ID, k.Created.Format(time.DateOnly))})
	}
	return out
}

func (v *venueView) checks(ctx context.Context) []ops.Check {
	st := v.status(ctx)
	hb := v.c.cfg.Venues[v.venue].Effective.Heartbeat.D().Seconds()
	comp := "gate/" + v.venue
	link := ops.State(v.venue, comp, "link_down", st.Link != "up", "")
	link.Weight = 3
	switch st.Link {
	case "down":
		link.Detail = fmt.Sprintf("no heartbeat from the venue edge for over %gs; check the edge and its outbound link", 3*hb)
	case "never":
		// Not yet seen since this process started: a C, not an alert.
		link.Crit = 2
		link.Detail = "no heartbeat from the venue edge since this process started; start the edge ('stadion edge') or check its link"
	}
	out := []ops.Check{link,
		{Site: v.venue, Component: comp, Name: "backlog", Unit: "scans", Value: float64(st.Backlog), Warn: 1000, Crit: 10000, Weight: 2,
			Detail: "scans stored at the edge, not yet in the cloud"},
		{Site: v.venue, Component: comp, Name: "config_behind", Unit: "versions", Value: float64(max(0, st.ConfigVersion-st.ConfigVersionApplied)), Warn: 0, Crit: 2,
			Detail: fmt.Sprintf("configuration version %d published, %d applied at the edge", st.ConfigVersion, st.ConfigVersionApplied), NoHistory: true},
	}
	if st.LastContact != nil {
		out = append(out, ops.Check{Site: v.venue, Component: comp, Name: "since_contact", Unit: "s", Value: time.Since(*st.LastContact).Seconds(), Warn: 3 * hb, Crit: 30 * hb,
			Detail: "seconds since the edge's last heartbeat"})
	}
	v.mu.Lock()
	sent, at := v.hb.Sent, v.hbAt
	anomalous, anomaly := v.hb.Anomalous, v.hb.Anomaly
	v.mu.Unlock()
	if st.Link == "up" {
		detail := "no anomalous log class at the edge"
		if anomalous > 0 {
			detail = fmt.Sprintf("%d anomalous log classes at the edge, the newest %q; 'stadion anomalies --venue %s' lists them", anomalous, anomaly, v.venue)
		}
		out = append(out, ops.Check{Site: v.venue, Component: comp, Name: "anomalies", Unit: "classes", Value: float64(anomalous), Warn: 0, Crit: 10,
			Detail: detail, NoHistory: true})
	}
	if !sent.IsZero() {
		skew := at.Sub(sent).Seconds()
		if skew < 0 {
			skew = -skew
		}
		out = append(out, ops.Check{Site: v.venue, Component: comp, Name: "clock_skew", Unit: "s", Value: skew, Warn: 2, Crit: 30,
			Detail: "difference between the edge's clock and the cloud's at the last heartbeat (plus link latency); tickets' validity windows depend on it"})
	}
	return out
}
