package live

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stadion-dev/stadion/internal/config"
)

// tokenPrefix marks viewer tokens, so that they are told apart from API
// keys (and found by secret scanners).
const tokenPrefix = "lvt_"

// Viewer is who a viewer token speaks for.
type Viewer struct {
	User    string    `json:"u"`
	Name    string    `json:"n"`
	Expires time.Time `json:"-"`
	// Issued is when the token was minted: a revocation of the user ends
	// the tokens issued before it.
	Issued time.Time `json:"-"`
}

type tokenBody struct {
	User string `json:"u"`
	Name string `json:"n"`
	Exp  int64  `json:"e"`
	Iat  int64  `json:"i,omitempty"` // unix milliseconds; older tokens lack it
}

// tokens signs and checks viewer tokens with a key shared by every
// process (kept in the live bucket).
type tokens struct {
	key []byte
	ttl time.Duration
}

var errBadToken = errors.New("invalid or expired viewer token")

// checkViewer validates a token request's user id and display name.
func checkViewer(user, name string) error {
	if user == "" || len(user) > 64 || !config.ValidTopicLevel(user) {
		return fmt.Errorf("user must be 1 to 64 letters, digits, '-', '_' or '~', not %q", user)
	}
	if !utf8.ValidString(name) || strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > 64 {
		return errors.New("name must be 1 to 64 characters of valid UTF-8")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return errors.New("name must not contain control characters")
		}
	}
	return nil
}

// issue returns a signed token for the viewer, valid for the TTL.
func (t *tokens) issue(user, name string, now time.Time) (string, time.Time) {
	exp := now.Add(t.ttl).Truncate(time.Second)
	body, _ := json.Marshal(tokenBody{User: user, Name: name, Exp: exp.Unix(), Iat: now.UnixMilli()})
	payload := base64.RawURLEncoding.EncodeToString(body)
	return tokenPrefix + payload + "." + t.sign(payload), exp
}

func (t *tokens) sign(payload string) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify checks a token's signature and expiry.
func (t *tokens) verify(tok string, now time.Time) (Viewer, error) {
	rest, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok || len(tok) > 1024 {
		return Viewer{}, errBadToken
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(t.sign(payload))) {
		return Viewer{}, errBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return Viewer{}, errBadToken
	}
	var b tokenBody
	if err := json.Unmarshal(raw, &b); err != nil || checkViewer(b.User, b.Name) != nil {
		return Viewer{}, errBadToken
	}
	exp := time.Unix(b.Exp, 0)
	if !now.Before(exp) {
		return Viewer{}, errBadToken
	}
	issued := time.UnixMilli(b.Iat)
	if b.Iat == 0 {
		issued = exp.Add(-t.ttl) // minted before tokens carried the time
	}
	return Viewer{User: b.User, Name: b.Name, Expires: exp, Issued: issued}, nil
}
