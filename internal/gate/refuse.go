package gate

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/config"
)

// What an edge sends is trusted for its own venue only. The cloud checks
// everything it takes from an edge against the venue whose credentials
// carried it before it stores or publishes anything, and counts and logs
// what it refuses (stadion_gate_refused_total{venue,kind}).

// Kinds of refusal.
const (
	refusedSyncReply = "sync_reply" // a catch-up request whose reply is outside gate.<venue>.syncreply.*
	refusedFwdReply  = "fwd_reply"  // a forwarded batch whose reply is outside gate.<venue>.fwdreply.*
	refusedScan      = "scan"       // a scan that is not the venue's own or not well formed
	refusedBatch     = "batch"      // a scan batch that is not JSON or too large
	refusedHeartbeat = "heartbeat"  // a heartbeat that names another venue or is not JSON
)

// maxForwardBatch bounds the scans of one forwarded batch (the edge's
// max_batch is validated far below it).
const maxForwardBatch = 10_000

// Bounds on the free-text fields of a forwarded scan.
const (
	maxScanField  = 128
	maxScanReason = 512
)

func (c *Cloud) refuse(venue, kind string, args ...any) {
	c.m.refused.WithLabelValues(venue, kind).Inc()
	c.log.Warn("refused from venue edge", append([]any{"venue", venue, "kind", kind}, args...)...)
}

// checkScan reports why a scan forwarded by venue's edge is not the
// venue's own or not well formed ("" when it is fine). An accepted scan
// must name a ticket the cloud issued for the venue; its ticket is then
// replaced by the cloud's record, so what is published is what was
// issued. An error means the ticket store did not answer (retry).
func (v *venueView) checkScan(ctx context.Context, s *Scan) (string, error) {
	if reason := scanShape(s, v.venue, v.c.cfg.Venues[v.venue].Gates); reason != "" {
		return reason, nil
	}
	if s.Decision != Accept {
		return "", nil
	}
	t, reason, err := v.c.issuedFor(ctx, v.venue, s.Ticket.ID)
	if reason == "" && err == nil {
		s.Ticket = &t
	}
	return reason, err
}

// scanShape checks a scan without the ticket store.
func scanShape(s *Scan, venue string, gates []string) string {
	switch {
	case s.Venue != venue:
		return fmt.Sprintf("scan of venue %q", s.Venue)
	case len(s.ID) != 24 || !isHex(s.ID):
		return "scan id is not 24 hex digits"
	case s.Decision != Accept && s.Decision != Reject:
		return fmt.Sprintf("decision %q", s.Decision)
	case s.Direction != "in" && s.Direction != "out":
		return fmt.Sprintf("direction %q", s.Direction)
	case s.At.IsZero():
		return "scan without a time"
	case !config.ValidName(s.Gate) || len(s.Gate) > maxScanField || len(s.Device) > maxScanField || len(s.Reason) > maxScanReason:
		return "gate, device or reason missing or too long"
	case s.Decision == Reject:
		return ""
	case len(gates) > 0 && !slices.Contains(gates, s.Gate):
		return fmt.Sprintf("accepted at gate %q, not one of the venue's", s.Gate)
	case s.Ticket == nil || s.Ticket.ID == "":
		return "accepted scan without a ticket"
	case s.Ticket.Venue != venue:
		return fmt.Sprintf("accepted ticket of venue %q", s.Ticket.Venue)
	}
	return ""
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// issuedFor returns the ticket the cloud issued under id for venue, or why
// there is none.
func (c *Cloud) issuedFor(ctx context.Context, venue, id string) (Ticket, string, error) {
	e, err := c.tickets.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return Ticket{}, "ticket " + id + " was never issued", nil
	}
	if err != nil {
		return Ticket{}, "", err
	}
	var rec TicketRecord
	if json.Unmarshal(e.Value(), &rec) != nil || rec.Venue != venue {
		return Ticket{}, "ticket " + id + " was not issued for this venue", nil
	}
	return rec.Ticket, "", nil
}
