package gate

import (
	"time"

	"github.com/stadion-dev/stadion/internal/config"
)

// CloudDomain is the cloud engine's JetStream domain when venues are
// configured; edges reach the cloud's streams through it.
const CloudDomain = "cloud"

// EdgeDomain is venue's edge JetStream domain.
func EdgeDomain(venue string) string { return "edge-" + venue }

// Streams and subjects. Every subject that crosses the leafnode starts
// with gate.<venue>., which is what a venue's credentials are limited to.
func ctlStream(venue string) string         { return "GATEV_" + venue }
func ctlSubjects(venue string) string       { return "gate." + venue + ".ctl.>" }
func configSubject(venue string) string     { return "gate." + venue + ".ctl.config" }
func keySubject(venue, kid string) string   { return "gate." + venue + ".ctl.key." + kid }
func revokeSubject(venue, id string) string { return "gate." + venue + ".ctl.revoke." + id }
func cloudScansStream(venue string) string  { return "GATE_SCANS_" + venue }
func hbSubject(venue string) string         { return "gate." + venue + ".hb" }
func diagSubject(venue, what string) string {
	return "gate." + venue + ".diag." + what
}
func replyPrefix(venue string) string { return "gate." + venue + ".reply." }
func deliverPrefix(venue, what string) string {
	return "gate." + venue + ".dlv." + what
}

// The edge's own streams, in its domain; their subjects never cross the
// link.
const (
	edgeScansStream = "SCANS"
	edgeScansSubj   = "edge.scans"
	edgeStateStream = "GATE_STATE"
)

// VenueConfig is what the cloud publishes to a venue's edge.
type VenueConfig struct {
	Venue    string              `json:"venue"`
	Version  int                 `json:"version"`
	Gates    []string            `json:"gates"`
	Settings config.EdgeSettings `json:"settings"`
}

// PublicKey is a signing key as edges see it.
type PublicKey struct {
	ID      uint32    `json:"id"`
	Public  []byte    `json:"public"`
	Created time.Time `json:"created"`
	Retired bool      `json:"retired"`
}

// Revocation revokes one ticket.
type Revocation struct {
	Ticket string    `json:"ticket"`
	At     time.Time `json:"at"`
}

// Decisions.
const (
	Accept = "accept"
	Reject = "reject"
)

// Scan is one scan at a gate and its decision, as stored at the edge and
// forwarded to the cloud.
type Scan struct {
	ID        string     `json:"id"`
	Venue     string     `json:"venue"`
	Gate      string     `json:"gate"`
	Device    string     `json:"device,omitempty"`
	Direction string     `json:"direction"`
	At        time.Time  `json:"at"`
	Decision  string     `json:"decision"`
	Reason    string     `json:"reason,omitempty"`
	Ticket    *Ticket    `json:"ticket,omitempty"`
	First     *Admission `json:"first,omitempty"`
}

// Admission is where and when a ticket first got in.
type Admission struct {
	Gate string    `json:"gate"`
	At   time.Time `json:"at"`
}

// batch is one durable write of the edge's scan log.
type batch struct {
	ConfigVersion int    `json:"config_version"`
	Scans         []Scan `json:"scans"`
}

// heartbeat is what a linked edge reports every few seconds.
type heartbeat struct {
	Venue         string    `json:"venue"`
	ConfigVersion int       `json:"config_version"`
	Scans         uint64    `json:"scans"`
	Admitted      uint64    `json:"admitted"`
	Rejected      uint64    `json:"rejected"`
	Started       time.Time `json:"started"`
}
