package gate

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Ticket is what a ticket code carries, signed.
type Ticket struct {
	ID         string    `json:"id"`
	Venue      string    `json:"venue"`
	Session    string    `json:"session"`
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	Zone       string    `json:"zone,omitempty"`
	Seat       string    `json:"seat,omitempty"`
	Holder     string    `json:"holder,omitempty"`
	// KeyID names the signing key.
	KeyID uint32 `json:"key_id"`
}

// Code format, version 1, before base64url (no padding):
//
//	version(1) key_id(4) id(12) valid_from(8) valid_until(8)
//	venue, session, zone, seat, holder: each len(1) bytes
//	signature(64) over everything before it
const (
	codeVersion = 1
	idLen       = 12
	sigLen      = ed25519.SignatureSize
	fixedLen    = 1 + 4 + idLen + 8 + 8
	// MaxFieldLen bounds each text field of a ticket.
	MaxFieldLen = 64
	// MaxCodeLen bounds a code's text; anything longer is rejected unread.
	MaxCodeLen = 4 * (fixedLen + 5*(1+MaxFieldLen) + sigLen) / 3
)

// Errors of DecodeCode; Reason maps them for a gate.
var (
	ErrMalformed = errors.New("malformed code")
	ErrVersion   = errors.New("unsupported code version")
)

var b64 = base64.RawURLEncoding

// newTicketID returns a random ticket id (24 hex digits).
func newTicketID() string {
	return hex.EncodeToString(randomBytes(idLen))
}

// EncodeCode signs t with priv and returns its code.
func EncodeCode(t Ticket, priv ed25519.PrivateKey) (string, error) {
	body, err := t.marshal()
	if err != nil {
		return "", err
	}
	return b64.EncodeToString(append(body, ed25519.Sign(priv, body)...)), nil
}

func (t Ticket) marshal() ([]byte, error) {
	id, err := hex.DecodeString(t.ID)
	if err != nil || len(id) != idLen {
		return nil, fmt.Errorf("ticket id %q: want %d hex digits", t.ID, 2*idLen)
	}
	b := make([]byte, 0, fixedLen+5*(1+MaxFieldLen)+sigLen)
	b = append(b, codeVersion)
	b = binary.BigEndian.AppendUint32(b, t.KeyID)
	b = append(b, id...)
	b = binary.BigEndian.AppendUint64(b, uint64(t.ValidFrom.Unix()))
	b = binary.BigEndian.AppendUint64(b, uint64(t.ValidUntil.Unix()))
	for _, f := range []string{t.Venue, t.Session, t.Zone, t.Seat, t.Holder} {
		if len(f) > MaxFieldLen {
			return nil, fmt.Errorf("ticket field %q: longer than %d bytes", f, MaxFieldLen)
		}
		b = append(b, byte(len(f)))
		b = append(b, f...)
	}
	return b, nil
}

// Decoded is a parsed code: the ticket, the signed bytes and the
// signature, not yet verified.
type Decoded struct {
	Ticket Ticket
	signed []byte
	sig    []byte
}

// Verify reports whether the code's signature is pub's.
func (d *Decoded) Verify(pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, d.signed, d.sig)
}

// DecodeCode parses a code strictly: bounded length, known version, every
// field in bounds, no trailing bytes. It does not check the signature.
func DecodeCode(code string) (*Decoded, error) {
	if len(code) == 0 || len(code) > MaxCodeLen {
		return nil, fmt.Errorf("%w: %d characters", ErrMalformed, len(code))
	}
	raw, err := b64.DecodeString(code)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url", ErrMalformed)
	}
	if len(raw) < fixedLen+5+sigLen {
		return nil, fmt.Errorf("%w: too short", ErrMalformed)
	}
	if raw[0] != codeVersion {
		return nil, fmt.Errorf("%w %d", ErrVersion, raw[0])
	}
	body, sig := raw[:len(raw)-sigLen], raw[len(raw)-sigLen:]
	t, err := unmarshalBody(body)
	if err != nil {
		return nil, err
	}
	return &Decoded{Ticket: t, signed: body, sig: sig}, nil
}

func unmarshalBody(b []byte) (Ticket, error) {
	t := Ticket{
		KeyID:      binary.BigEndian.Uint32(b[1:5]),
		ID:         hex.EncodeToString(b[5 : 5+idLen]),
		ValidFrom:  time.Unix(int64(binary.BigEndian.Uint64(b[17:25])), 0).UTC(),
		ValidUntil: time.Unix(int64(binary.BigEndian.Uint64(b[25:33])), 0).UTC(),
	}
	rest := b[fixedLen:]
	fields := []*string{&t.Venue, &t.Session, &t.Zone, &t.Seat, &t.Holder}
	for _, f := range fields {
		if len(rest) < 1 || int(rest[0]) > MaxFieldLen || len(rest) < 1+int(rest[0]) {
			return Ticket{}, fmt.Errorf("%w: truncated field", ErrMalformed)
		}
		*f, rest = string(rest[1:1+rest[0]]), rest[1+rest[0]:]
	}
	if len(rest) != 0 {
		return Ticket{}, fmt.Errorf("%w: trailing bytes", ErrMalformed)
	}
	return t, nil
}
