package api

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// AdminClient is the name of the built-in administrator.
const AdminClient = "admin"

// Principal is the authenticated caller of a request.
type Principal struct {
	Client string
	KeyID  string
	// Role is the key's role for the admin client (RoleViewer,
	// RoleOperator, RoleAdmin), "" for other clients.
	Role string
	// Label names who holds the key ("" when the key has no label).
	Label string
	// Revoked is cancelled when the key is revoked (nil: never, as for
	// callers not authenticated by an API key).
	Revoked context.Context
}

// Bind returns ctx, also cancelled when the caller's key is revoked, and
// the function that releases it. A streaming response (SSE, snapshot, long
// pull) runs under it, so revocation ends it on every replica. It starts no
// goroutine.
func (p Principal) Bind(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if p.Revoked == nil {
		return ctx, cancel
	}
	stop := context.AfterFunc(p.Revoked, cancel)
	return ctx, func() { stop(); cancel() }
}

// Admin reports whether the caller is the administrator.
func (p Principal) Admin() bool { return p.Client == AdminClient }

type principalKey struct{}

// PrincipalFrom returns the caller stored by Authenticate.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// BearerToken extracts the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// Authenticate wraps h so that it only runs for a request with a valid key;
// the caller is then in the request context.
func Authenticate(keys *Keys, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := r.Context().Value(actingKey{}).(Principal); ok {
			h.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
			return
		}
		token := BearerToken(r)
		if token == "" {
			WriteError(w, r, Unauthorized("send an API key as 'Authorization: Bearer KEY'"))
			return
		}
		if p, ok := PrincipalFrom(r.Context()); ok && p.KeyID != "" {
			h.ServeHTTP(w, r) // resolved from this token already (ResolvePrincipal)
			return
		}
		rec, err := keys.Lookup(token)
		if err != nil {
			WriteError(w, r, Unauthorized("the API key is unknown or revoked"))
			return
		}
		ctx := WithPrincipal(r.Context(), PrincipalOf(rec, keys.Revoked(rec.ID)))
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// ResolvePrincipal resolves r's bearer key, for a middleware in front of
// the routes that needs the caller (the runtime limits): the request it
// returns carries the caller, so Authenticate does not look the key up a
// second time. ok is false (and r unchanged) without a valid key.
func ResolvePrincipal(keys *Keys, r *http.Request) (*http.Request, Principal, bool) {
	token := BearerToken(r)
	if token == "" {
		return r, Principal{}, false
	}
	rec, err := keys.Lookup(token)
	if err != nil {
		return r, Principal{}, false
	}
	p := PrincipalOf(rec, keys.Revoked(rec.ID))
	return r.WithContext(WithPrincipal(r.Context(), p)), p, true
}

// PrincipalOf is the caller a key record authenticates.
func PrincipalOf(rec KeyRecord, revoked context.Context) Principal {
	return Principal{Client: rec.Client, KeyID: rec.ID, Role: rec.AdminRole(), Label: rec.Label, Revoked: revoked}
}

type actingKey struct{}

// ActingAs returns ctx for a request the server itself makes on behalf of
// p (a change approved under a freeze, a read of a resource before and
// after a change): Authenticate admits it as p without a bearer key. Only
// code in this process can set it; no header or body can.
func ActingAs(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, actingKey{}, p)
}

// RequireAdmin answers 403 unless the caller is the administrator.
func RequireAdmin(r *http.Request) error {
	if p, _ := PrincipalFrom(r.Context()); !p.Admin() {
		return Forbidden("this needs the admin key")
	}
	return nil
}

// AdminKeyFile is the name of the admin key file under the data directory.
const AdminKeyFile = "admin.key"

// EnsureAdminKey makes sure <dataDir>/admin.key exists with mode 0600 and
// that its key is registered. It returns the file's path.
func EnsureAdminKey(ctx context.Context, keys *Keys, dataDir string, log *slog.Logger) (string, error) {
	path := filepath.Join(dataDir, AdminKeyFile)
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := tightenMode(path, log); err != nil {
			return "", err
		}
		return path, keys.Register(ctx, strings.TrimSpace(string(raw)), AdminClient)
	case errors.Is(err, fs.ErrNotExist):
		key, _, err := keys.Create(ctx, AdminClient)
		if err != nil {
			return "", err
		}
		if err := writeSecretFile(path, key+"\n"); err != nil {
			return "", err
		}
		return path, keys.Register(ctx, key, AdminClient)
	default:
		return "", fmt.Errorf("admin key: %w", err)
	}
}

func tightenMode(path string, log *slog.Logger) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o077 != 0 {
		log.Warn("admin key file was readable by others; setting mode 0600", "path", path)
		return os.Chmod(path, 0o600)
	}
	return nil
}

// writeSecretFile creates path with mode 0600, failing if it exists.
func writeSecretFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("admin key: %w", err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
