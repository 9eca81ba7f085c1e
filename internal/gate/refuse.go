package gate

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine"
)

// What an edge sends is trusted for its own venue only. The cloud checks
// everything it takes from an edge against the venue whose credentials
// carried it before it stores or publishes anything, and counts and logs
// what it refuses (stadion_gate_refused_total{venue,kind}).

// Kinds of refusal.
const (
	refusedSyncReply = "sync_reply" // a catch-up request whose reply is outside gate.<venue>.syncreply.*
	refusedFwdReply  = "fwd_reply"  // a forwarded batch whose reply is outside gate.<venue>.fwdreply.*
	refusedSyncRate  = "sync_rate"  // a catch-up request beyond the venue's rate (not logged)
	refusedScan      = "scan"       // a scan that is not the venue's own or not well formed
	refusedBatch     = "batch"      // a scan batch that is not JSON or too large
	refusedHeartbeat = "heartbeat"  // a heartbeat that names another venue or is not JSON
	refusedDiag      = "diag"       // a diagnostics answer that is not the venue's status or logs
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

// scanShape checks a scan without the ticket store.
func scanShape(s *Scan, venue string) string {
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
	case s.Ticket == nil || len(s.Ticket.ID) != 24 || !isHex(s.Ticket.ID):
		return "accepted scan without a well-formed ticket id"
	case s.Ticket.Venue != venue:
		return fmt.Sprintf("accepted ticket of venue %q", s.Ticket.Venue)
	}
	return ""
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// ticketLookup is how many tickets one read of gate-tickets asks for
// (the engine answers at most 1024 subjects at once).
const ticketLookup = 256

// issuedTickets returns, of the ticket ids given, those the cloud issued
// for venue, by id, with one batched read of gate-tickets per
// ticketLookup ids. The ids must be well formed (scanShape): they become
// subjects.
func (c *Cloud) issuedTickets(ctx context.Context, venue string, ids []string) (map[string]Ticket, error) {
	const prefix = "$KV.gate-tickets."
	out := make(map[string]Ticket, len(ids))
	for chunk := range slices.Chunk(ids, ticketLookup) {
		subjects := make([]string, len(chunk))
		for i, id := range chunk {
			subjects[i] = prefix + id
		}
		msgs, err := engine.DirectGet(ctx, c.nc, "KV_gate-tickets", engine.GetRequest{LastOf: subjects, Limit: len(subjects)})
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			var rec TicketRecord
			id := strings.TrimPrefix(m.Header.Get(jetstream.SubjectHeader), prefix)
			if m.Header.Get("KV-Operation") != "" || json.Unmarshal(m.Data, &rec) != nil || rec.ID != id || rec.Venue != venue {
				continue
			}
			out[id] = rec.Ticket
		}
	}
	return out, nil
}
