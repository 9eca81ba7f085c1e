package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Reissued is the answer of POST /v1/clients/admin/keys/reissue.
type Reissued struct {
	Role string `json:"role"`
	Keys []struct {
		ID    string `json:"id"`
		Key   string `json:"key"`
		Label string `json:"label"`
	} `json:"keys"`
	Revoked []struct {
		ID    string `json:"id"`
		Label string `json:"label"`
	} `json:"revoked"`
}

// Reissue revokes every admin key of role (but the caller's) and makes
// one for each of names.
func (r *Client) Reissue(ctx context.Context, role string, names []string) (Reissued, error) {
	body, _ := json.Marshal(map[string]any{"role": role, "to": names})
	var res Reissued
	err := r.Do(ctx, "POST", "/v1/clients/admin/keys/reissue", "application/json", body, nil, &res)
	return res, err
}

// KeyFile is DIR/<name>.key, the name reduced to safe characters.
func KeyFile(dir, name string) string {
	slug := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, strings.TrimSpace(name))
	return filepath.Join(dir, slug+".key")
}

// CheckKeyFiles makes dir and refuses, before anything is revoked, if one
// of names' key files exists already.
func CheckKeyFiles(dir string, names []string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, n := range names {
		if _, err := os.Stat(KeyFile(dir, n)); err == nil {
			return fmt.Errorf("%s exists; move it away first (keys are never overwritten)", KeyFile(dir, n))
		}
	}
	return nil
}

// WriteKeyFile writes key to a new file at path, mode 0600.
func WriteKeyFile(path, key string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// FreezeTime reads an RFC 3339 time or +DURATION from now.
func FreezeTime(s string, now time.Time) (time.Time, error) {
	if d, ok := strings.CutPrefix(s, "+"); ok {
		dur, err := time.ParseDuration(d)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not +DURATION (e.g. +2h)", s)
		}
		return now.Add(dur).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-02-04T19:00:00+08:00) nor +DURATION", s)
	}
	return t, nil
}

// SetFreeze creates or changes freeze name (PUT /v1/freezes/{name}).
func (r *Client) SetFreeze(ctx context.Context, name string, body map[string]any) (Freeze, error) {
	raw, _ := json.Marshal(body)
	var out Freeze
	err := r.Do(ctx, "PUT", "/v1/freezes/"+url.PathEscape(name), "application/json", raw, nil, &out)
	return out, err
}

// Decided is the answer of POST /v1/approvals/{id}/approve or reject.
type Decided struct {
	Approval Approval `json:"approval"`
	Result   struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	} `json:"result"`
}
