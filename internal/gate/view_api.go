package gate

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
)

// Admission events are what the admissions topic carries.
type admission struct {
	ScanID    string    `json:"scan_id"`
	Venue     string    `json:"venue"`
	Gate      string    `json:"gate"`
	Direction string    `json:"direction"`
	At        time.Time `json:"at"`
	TicketID  string    `json:"ticket_id"`
	Session   string    `json:"session"`
	Zone      string    `json:"zone,omitempty"`
	Seat      string    `json:"seat,omitempty"`
	Holder    string    `json:"holder,omitempty"`
	Device    string    `json:"device,omitempty"`
}

func admissionEvent(s *Scan) admission {
	a := admission{ScanID: s.ID, Venue: s.Venue, Gate: s.Gate, Direction: s.Direction, At: s.At, Device: s.Device}
	if t := s.Ticket; t != nil {
		a.TicketID, a.Session, a.Zone, a.Seat, a.Holder = t.ID, t.Session, t.Zone, t.Seat, t.Holder
	}
	return a
}

// VenueStatus is the cloud's view of one venue (GET /v1/venues/{venue}).
type VenueStatus struct {
	Venue string `json:"venue"`
	// Link is "up" while heartbeats arrive, "down" after three are missed,
	// "never" before the first.
	Link                 string     `json:"link"`
	LastContact          *time.Time `json:"last_contact,omitempty"`
	ConfigVersion        int        `json:"config_version"`
	ConfigVersionApplied int        `json:"config_version_applied"`
	Admitted             uint64     `json:"admitted"`
	Rejected             uint64     `json:"rejected"`
	// Received is how many of the venue's scans the cloud has stored;
	// Scans how many of them the view (counts, admissions topic) has taken.
	Received uint64 `json:"received"`
	Scans    uint64 `json:"scans"`
	// Backlog is how many scans the edge had stored at its last contact
	// that have not reached the cloud yet.
	Backlog  uint64     `json:"backlog"`
	LastScan *time.Time `json:"last_scan,omitempty"`
}

func (v *venueView) status(ctx context.Context) VenueStatus {
	received := v.received(ctx)
	// Another replica may have applied the latest batches: the bucket
	// holds the counts of all (this replica's copy if it cannot be read).
	if st, _, err := v.stored(ctx); err == nil {
		v.remember(st)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	s := VenueStatus{
		Venue: v.venue, Link: "never", ConfigVersion: v.version,
		ConfigVersionApplied: max(v.st.Applied, v.hb.ConfigVersion),
		Admitted:             v.st.Admitted, Rejected: v.st.Rejected, Scans: v.st.Scans,
		Received: max(received, v.st.Scans),
	}
	if !v.hbAt.IsZero() {
		at := v.hbAt.UTC()
		s.LastContact = &at
		s.Link = "up"
		if time.Since(v.hbAt) > 3*v.c.cfg.Venues[v.venue].Effective.Heartbeat.D() {
			s.Link = "down"
		}
		if v.hb.Scans > s.Received {
			s.Backlog = v.hb.Scans - s.Received
		}
	}
	if !v.st.LastScan.IsZero() {
		at := v.st.LastScan
		s.LastScan = &at
	}
	return s
}

// received reads the scans total of the last entry the cloud holds.
func (v *venueView) received(ctx context.Context) uint64 {
	s, err := v.c.js.Stream(ctx, cloudScansStream(v.venue))
	if err != nil {
		return 0
	}
	m, err := s.GetLastMsgForSubject(ctx, cloudScansSubject(v.venue))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(m.Header.Get(scansTotalHeader), 10, 64)
	return n
}

// canView: the admin and ticketing clients see venues.
func (c *Cloud) canView(r *http.Request) error {
	p, _ := api.PrincipalFrom(r.Context())
	if p.Admin() || c.cfg.HasRole(p.Client, TicketingRole) {
		return nil
	}
	return api.Forbidden("venues are visible to the admin and to clients with the ticketing role")
}

func (c *Cloud) listVenues(w http.ResponseWriter, r *http.Request) error {
	if err := c.canView(r); err != nil {
		return err
	}
	out := make([]VenueStatus, 0, len(c.views))
	for _, name := range c.cfg.VenueNames() {
		out = append(out, c.views[name].status(r.Context()))
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"venues": out})
	return nil
}

func (c *Cloud) showVenue(w http.ResponseWriter, r *http.Request) error {
	v, err := c.venueOf(r)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, v.status(r.Context()))
	return nil
}

func (c *Cloud) venueOf(r *http.Request) (*venueView, error) {
	if err := c.canView(r); err != nil {
		return nil, err
	}
	v, ok := c.views[r.PathValue("venue")]
	if !ok {
		return nil, api.NotFound(fmt.Sprintf("no venue %q in the configuration (venues: %v)", r.PathValue("venue"), c.cfg.VenueNames()))
	}
	return v, nil
}

type cloudMetrics struct {
	forwarded *prometheus.CounterVec
	decision  *prometheus.HistogramVec
	issued    prometheus.Counter
	refused   *prometheus.CounterVec
	kicked    *prometheus.CounterVec
	linkSubs  atomic.Pointer[[]*nats.Subscription] // set once the cloud started
}

func newCloudMetrics(reg prometheus.Registerer) *cloudMetrics {
	m := &cloudMetrics{
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_gate_scans_forwarded_total", Help: "Scans that reached the cloud from venue edges.",
		}, []string{"venue"}),
		decision: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stadion_gate_decision_seconds",
			Help:    "Scan decision latency at venue edges (request to stored decision), counted when the cloud applies the forwarded batch.",
			Buckets: decisionBuckets,
		}, []string{"venue"}),
		issued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_gate_tickets_issued_total", Help: "Tickets issued.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_gate_refused_total",
			Help: "What venue edges sent that the cloud refused, by venue and kind (sync_reply, sync_rate, fwd_reply, batch, scan, heartbeat, diag).",
		}, []string{"venue", "kind"}),
		kicked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_gate_links_closed_total",
			Help: "Leafnode links of venue edges this replica closed because the venue's credentials were revoked or replaced.",
		}, []string{"venue"}),
	}
	dropped := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "stadion_gate_link_dropped_total",
		Help: "Requests and heartbeats from venue edges dropped because the cloud's subscription already held its bound.",
	}, m.droppedTotal)
	reg.MustRegister(m.forwarded, m.decision, m.issued, m.refused, m.kicked, dropped)
	return m
}

// droppedTotal sums what the link subscriptions dropped.
func (m *cloudMetrics) droppedTotal() float64 {
	subs := m.linkSubs.Load()
	if subs == nil {
		return 0
	}
	var n int
	for _, s := range *subs {
		if d, err := s.Dropped(); err == nil {
			n += d
		}
	}
	return float64(n)
}
