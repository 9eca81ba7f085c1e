package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
)

// MaxBatch is the most tickets one POST /v1/tickets issues.
const MaxBatch = 1000

// TicketRequest is one ticket to issue.
type TicketRequest struct {
	Venue      string    `json:"venue"`
	Session    string    `json:"session"`
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	Zone       string    `json:"zone,omitempty"`
	Seat       string    `json:"seat,omitempty"`
	Holder     string    `json:"holder,omitempty"`
}

// Issued is the answer for one ticket.
type Issued struct {
	ID   string `json:"id"`
	Code string `json:"code"`
}

// TicketRecord is a ticket as the cloud keeps it.
type TicketRecord struct {
	Ticket
	Code    string     `json:"code"`
	Issued  time.Time  `json:"issued"`
	Revoked *time.Time `json:"revoked,omitempty"`
}

func (c *Cloud) canTicket(r *http.Request) error {
	p, _ := api.PrincipalFrom(r.Context())
	if p.Admin() || c.cfg.HasRole(p.Client, TicketingRole) {
		return nil
	}
	return api.Forbidden("tickets need a client with the ticketing role")
}

// issueTickets is POST /v1/tickets: one ticket object, or {"tickets": [...]}.
func (c *Cloud) issueTickets(w http.ResponseWriter, r *http.Request) error {
	if err := c.canTicket(r); err != nil {
		return err
	}
	reqs, batch, err := decodeTicketRequests(r)
	if err != nil {
		return err
	}
	if fe := c.validateTickets(reqs, batch); len(fe) > 0 {
		p := api.BadRequest("some tickets are invalid; nothing was issued")
		p.Errors = fe
		return p
	}
	out, err := c.issue(r.Context(), reqs)
	if err != nil {
		return api.Unavailable(err.Error())
	}
	if !batch {
		api.WriteJSON(w, http.StatusCreated, out[0])
		return nil
	}
	api.WriteJSON(w, http.StatusCreated, map[string]any{"tickets": out})
	return nil
}

func decodeTicketRequests(r *http.Request) ([]TicketRequest, bool, error) {
	body, err := api.ReadBody(r, 4<<20)
	if err != nil {
		return nil, false, err
	}
	if err := api.CheckJSON(body); err != nil {
		return nil, false, api.MalformedJSON(err)
	}
	var probe struct {
		Tickets json.RawMessage `json:"tickets"`
	}
	_ = json.Unmarshal(body, &probe)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if probe.Tickets != nil {
		var b struct {
			Tickets []TicketRequest `json:"tickets"`
		}
		if err := dec.Decode(&b); err != nil {
			return nil, true, api.BadRequest("invalid JSON body: " + err.Error())
		}
		if len(b.Tickets) == 0 || len(b.Tickets) > MaxBatch {
			return nil, true, api.BadRequest(fmt.Sprintf("a batch holds 1 to %d tickets, got %d", MaxBatch, len(b.Tickets)))
		}
		return b.Tickets, true, nil
	}
	var one TicketRequest
	if err := dec.Decode(&one); err != nil {
		return nil, false, api.BadRequest("invalid JSON body: " + err.Error() + ` (send one ticket object or {"tickets": [...]})`)
	}
	return []TicketRequest{one}, false, nil
}

func (c *Cloud) validateTickets(reqs []TicketRequest, batch bool) []api.FieldError {
	var fe []api.FieldError
	for i, t := range reqs {
		at := ""
		if batch {
			at = "/tickets/" + strconv.Itoa(i)
		}
		bad := func(field, msg string) { fe = append(fe, api.FieldError{Pointer: at + "/" + field, Message: msg}) }
		if _, ok := c.views[t.Venue]; !ok {
			bad("venue", fmt.Sprintf("unknown venue %q (venues: %v)", t.Venue, c.cfg.VenueNames()))
		}
		if t.Session == "" {
			bad("session", "required: the event code of the session")
		}
		if t.ValidFrom.IsZero() || t.ValidUntil.IsZero() {
			bad("valid_from", "valid_from and valid_until are required (RFC 3339 times)")
		} else if !t.ValidUntil.After(t.ValidFrom) {
			bad("valid_until", "must be after valid_from")
		}
		for field, v := range map[string]string{"session": t.Session, "zone": t.Zone, "seat": t.Seat, "holder": t.Holder} {
			if len(v) > MaxFieldLen {
				bad(field, fmt.Sprintf("at most %d bytes", MaxFieldLen))
			}
		}
	}
	return fe
}

// issue signs and stores tickets; the writes go out together.
func (c *Cloud) issue(ctx context.Context, reqs []TicketRequest) ([]Issued, error) {
	key, ok := c.signer.active()
	if !ok {
		return nil, errors.New("no active signing key")
	}
	out := make([]Issued, len(reqs))
	futures := make([]jetstream.PubAckFuture, len(reqs))
	now := time.Now().UTC()
	for i, req := range reqs {
		t := Ticket{ID: newTicketID(), Venue: req.Venue, Session: req.Session,
			ValidFrom: req.ValidFrom.UTC().Truncate(time.Second), ValidUntil: req.ValidUntil.UTC().Truncate(time.Second),
			Zone: req.Zone, Seat: req.Seat, Holder: req.Holder, KeyID: key.ID}
		code, err := EncodeCode(t, key.Private)
		if err != nil {
			return nil, err
		}
		raw, _ := json.Marshal(TicketRecord{Ticket: t, Code: code, Issued: now})
		if futures[i], err = c.js.PublishAsync("$KV.gate-tickets."+t.ID, raw); err != nil {
			return nil, err
		}
		out[i] = Issued{ID: t.ID, Code: code}
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return nil, fmt.Errorf("store ticket: %w", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c.m.issued.Add(float64(len(out)))
	return out, nil
}

func (c *Cloud) ticketOf(r *http.Request) (TicketRecord, jetstream.KeyValueEntry, error) {
	var rec TicketRecord
	if err := c.canTicket(r); err != nil {
		return rec, nil, err
	}
	id := r.PathValue("id")
	e, err := c.tickets.Get(r.Context(), id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return rec, nil, api.NotFound(fmt.Sprintf("no ticket %q", id))
	}
	if err != nil {
		return rec, nil, api.Unavailable(err.Error())
	}
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return rec, nil, fmt.Errorf("ticket %s is corrupt: %w", id, err)
	}
	return rec, e, nil
}

func (c *Cloud) showTicket(w http.ResponseWriter, r *http.Request) error {
	rec, _, err := c.ticketOf(r)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, rec)
	return nil
}

// revokeTicket is POST /v1/tickets/{id}/revoke. The revocation reaches the
// venue's edge through its control stream, at once or after a link cut.
func (c *Cloud) revokeTicket(w http.ResponseWriter, r *http.Request) error {
	rec, e, err := c.ticketOf(r)
	if err != nil {
		return err
	}
	if rec.Revoked == nil {
		now := time.Now().UTC()
		rec.Revoked = &now
		raw, _ := json.Marshal(rec)
		if _, err := c.tickets.Update(r.Context(), rec.ID, raw, e.Revision()); err != nil {
			return api.Unavailable("the ticket changed meanwhile, retry: " + err.Error())
		}
	}
	raw, _ := json.Marshal(Revocation{Ticket: rec.ID, At: *rec.Revoked})
	m := &jetstreamMsg{subject: revokeSubject(rec.Venue, rec.ID), data: raw}
	if err := m.publish(r.Context(), c.js); err != nil {
		return api.Unavailable("revocation stored but not yet sent to the venue, retry: " + err.Error())
	}
	c.log.Info("ticket revoked", "ticket", rec.ID, "venue", rec.Venue)
	api.WriteJSON(w, http.StatusOK, rec)
	return nil
}
