package gate

import (
	"encoding/hex"
	"errors"
	"slices"
	"time"
)

// Reasons a scan is rejected.
const (
	ReasonMalformed    = "malformed code"
	ReasonUnknownKey   = "unknown key"
	ReasonBadSignature = "bad signature"
	ReasonWrongVenue   = "wrong venue"
	ReasonWindow       = "outside the session window"
	ReasonRevoked      = "revoked"
	ReasonAdmitted     = "already admitted"
	ReasonNoEntry      = "exit without entry"
	ReasonUnknownGate  = "unknown gate"
)

// ScanRequest is the body of POST /v1/scan.
type ScanRequest struct {
	Code      string `json:"code"`
	Gate      string `json:"gate"`
	Direction string `json:"direction"`
}

// ScanResult is the answer of POST /v1/scan.
type ScanResult struct {
	ScanID   string     `json:"scan_id"`
	Decision string     `json:"decision"`
	Reason   string     `json:"reason,omitempty"`
	Ticket   *Ticket    `json:"ticket,omitempty"`
	First    *Admission `json:"first,omitempty"`
}

// check makes the stateless part of a decision: the code, its signature,
// the venue, the session window, revocation and the gate. It reports
// false when the scan is already rejected.
func (e *Edge) check(req ScanRequest, now time.Time) (Scan, bool) {
	s := Scan{
		ID: hex.EncodeToString(randomBytes(12)), Venue: e.venue, Gate: req.Gate,
		Direction: req.Direction, At: now,
	}
	reject := func(reason string) (Scan, bool) {
		s.Decision, s.Reason = Reject, reason
		return s, false
	}
	cfg := e.ctl.config()
	if len(cfg.Gates) > 0 && !slices.Contains(cfg.Gates, req.Gate) {
		return reject(ReasonUnknownGate)
	}
	d, err := DecodeCode(req.Code)
	if err != nil {
		if errors.Is(err, ErrVersion) {
			return reject(ReasonMalformed + ": " + err.Error())
		}
		return reject(ReasonMalformed)
	}
	t := d.Ticket
	key, ok := e.ctl.key(t.KeyID)
	if !ok {
		return reject(ReasonUnknownKey)
	}
	if !d.Verify(key.Public) {
		return reject(ReasonBadSignature)
	}
	s.Ticket = &t
	skew := cfg.Settings.ClockSkew.D()
	switch {
	case t.Venue != e.venue:
		return reject(ReasonWrongVenue)
	case now.Before(t.ValidFrom.Add(-skew)) || now.After(t.ValidUntil.Add(skew)):
		return reject(ReasonWindow)
	case e.ctl.isRevoked(t.ID):
		return reject(ReasonRevoked)
	}
	return s, true
}
