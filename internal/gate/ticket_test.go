package gate

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func testTicket() Ticket {
	return Ticket{
		ID: "0123456789abcdef01234567", Venue: "bird-nest", Session: "CER-OPENING",
		ValidFrom: time.Unix(1643976000, 0).UTC(), ValidUntil: time.Unix(1643990400, 0).UTC(),
		Zone: "N", Seat: "112-7-23", Holder: "H-0042871", KeyID: 7,
	}
}

func TestCodeRoundTrip(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	want := testTicket()
	code, err := EncodeCode(want, priv)
	if err != nil {
		t.Fatal(err)
	}
	if len(code) > 200 {
		t.Errorf("code is %d characters; want a compact code", len(code))
	}
	d, err := DecodeCode(code)
	if err != nil {
		t.Fatal(err)
	}
	if d.Ticket != want {
		t.Errorf("decoded %+v, want %+v", d.Ticket, want)
	}
	if !d.Verify(pub) {
		t.Error("signature does not verify")
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if d.Verify(other) {
		t.Error("signature verifies with another key")
	}
}

func TestDecodeCodeRejects(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	code, _ := EncodeCode(testTicket(), priv)
	raw, _ := base64.RawURLEncoding.DecodeString(code)
	enc := base64.RawURLEncoding.EncodeToString
	withVersion := append([]byte{9}, raw[1:]...)
	trailing := append(append([]byte(nil), raw[:len(raw)-sigLen]...), 0)
	trailing = append(trailing, raw[len(raw)-sigLen:]...)
	longField := append([]byte(nil), raw...)
	longField[fixedLen] = MaxFieldLen + 1
	cases := map[string]struct {
		code string
		want error
	}{
		"empty":           {"", ErrMalformed},
		"oversized":       {strings.Repeat("A", MaxCodeLen+1), ErrMalformed},
		"not base64url":   {code[:20] + "+/=" + code[23:], ErrMalformed},
		"truncated":       {code[:len(code)-10], ErrMalformed},
		"too short":       {enc(raw[:40]), ErrMalformed},
		"unknown version": {enc(withVersion), ErrVersion},
		"trailing bytes":  {enc(trailing), ErrMalformed},
		"field too long":  {enc(longField), ErrMalformed},
		"zeros":           {enc(make([]byte, 150)), ErrVersion},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeCode(tc.code)
			if !errors.Is(err, tc.want) {
				t.Errorf("DecodeCode: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEncodeRejectsBadTickets(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	long := testTicket()
	long.Holder = strings.Repeat("h", MaxFieldLen+1)
	badID := testTicket()
	badID.ID = "xyz"
	for name, tk := range map[string]Ticket{"long holder": long, "bad id": badID} {
		if _, err := EncodeCode(tk, priv); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

// FuzzDecodeCode: no input crashes the decoder; whatever decodes encodes
// back to the same signed bytes.
func FuzzDecodeCode(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(nil)
	code, _ := EncodeCode(testTicket(), priv)
	for _, seed := range []string{code, code[:50], "", "AAAA", strings.Repeat("_", 300)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := DecodeCode(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		body, err := d.Ticket.marshal()
		if err != nil {
			t.Fatalf("decoded ticket does not encode: %v", err)
		}
		if string(body) != string(d.signed) {
			t.Fatalf("re-encoding differs:\n%x\n%x", body, d.signed)
		}
	})
}
