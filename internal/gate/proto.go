package gate

import (
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
)

// CloudDomain is the cloud engine's JetStream domain when venues are
// configured; edges reach the cloud's streams through it.
const CloudDomain = "cloud"

// EdgeDomain is venue's edge JetStream domain.
func EdgeDomain(venue string) string { return "edge-" + venue }

// The link. An edge is an outside party: whoever holds a venue's
// credentials can send anything its permissions allow. So nothing crosses
// the link that the cloud's engine would act on by itself: no JetStream
// API request, mirror, source, consumer delivery, ack or flow control
// (each lets the sender pick a reply subject the engine then publishes to
// with the cloud's rights). Every subject that crosses starts with
// gate.<venue>., which is what a venue's credentials are limited to, and
// the cloud's handlers answer only in the venue's reply namespaces:
//
//	edge -> cloud  gate.<v>.sync   catch-up request; answer on gate.<v>.syncreply.<token>
//	edge -> cloud  gate.<v>.fwd    one stored scan batch; answer on gate.<v>.fwdreply.<token>
//	edge -> cloud  gate.<v>.hb     heartbeat (no answer)
//	edge -> cloud  gate.<v>.reply.<token>  the edge's answers to diagnostics
//	cloud -> edge  gate.<v>.ctl.>  control messages as the cloud stores them (a nudge to catch up)
//	cloud -> edge  gate.<v>.diag.<what>    diagnostics requests (answered on gate.<v>.reply.<token>)
func ctlStream(venue string) string         { return "GATEV_" + venue }
func ctlSubjects(venue string) string       { return "gate." + venue + ".ctl.>" }
func ctlPrefix(venue string) string         { return "gate." + venue + ".ctl." }
func configSubject(venue string) string     { return "gate." + venue + ".ctl.config" }
func keySubject(venue, kid string) string   { return "gate." + venue + ".ctl.key." + kid }
func revokeSubject(venue, id string) string { return "gate." + venue + ".ctl.revoke." + id }
func cloudScansStream(venue string) string  { return "GATE_SCANS_" + venue }
func hbSubject(venue string) string         { return "gate." + venue + ".hb" }
func diagSubject(venue, what string) string {
	return "gate." + venue + ".diag." + what
}
func replyPrefix(venue string) string    { return "gate." + venue + ".reply." }
func fwdSubject(venue string) string     { return "gate." + venue + ".fwd" }
func fwdReplyPrefix(venue string) string { return "gate." + venue + ".fwdreply." }

// cloudScansSubject is what GATE_SCANS_<venue> stores: the cloud writes
// it after checking the batch came from the venue; it never crosses the
// link.
func cloudScansSubject(venue string) string { return "gatescans." + venue }

// inReplyNamespace reports whether reply is one token under prefix: the
// only replies a cloud handler reached by an edge publishes to.
func inReplyNamespace(reply, prefix string) bool {
	rest, ok := strings.CutPrefix(reply, prefix)
	return ok && rest != "" && !strings.ContainsAny(rest, ".*> \t\r\n")
}

// The edge's own streams, in its domain; their subjects never cross the
// link.
const (
	edgeScansStream = "SCANS"
	edgeScansSubj   = "edge.scans"
	edgeStateStream = "GATE_STATE"
	edgeStatePrefix = "edge.ctl." // + what follows gate.<venue>.ctl.
	ctlSeqHeader    = "Stadion-Ctl-Seq"
	forwarder       = "cloud" // the durable consumer of SCANS that forwards
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
	// Sent is the edge's clock when it sent the heartbeat (clock skew).
	Sent time.Time `json:"sent,omitempty"`
	// Anomalous counts the edge's anomalous log classes (new at WARN or
	// above, or a rate jump); Anomaly is the newest one's component and
	// template, cut to maxHeartbeatAnomaly bytes.
	Anomalous int    `json:"anomalous,omitempty"`
	Anomaly   string `json:"anomaly,omitempty"`
}

// maxHeartbeatAnomaly bounds the anomaly a heartbeat names.
const maxHeartbeatAnomaly = 256
