package live

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/loop"
)

// revocationsBucket holds, per viewer-token user, the time of the user's
// latest revocation; its entries live as long as a token (TTL = token_ttl
// plus a minute of clock skew), after which every token the revocation
// ended has expired anyway.
const revocationsBucket = "stadion-live-revocations"

// revocations follows the bucket in every process: a token whose user was
// revoked at or after the token was issued is refused, and the user's
// open MQTT connections are closed (onRevoke) once the revocation is
// recorded here.
type revocations struct {
	kv       jetstream.KeyValue
	ttl      time.Duration
	log      *slog.Logger
	onRevoke func(user string)

	mu sync.RWMutex
	at map[string]time.Time // user → latest revocation
	w  jetstream.KeyWatcher
}

type revocation struct {
	User string `json:"user"`
	At   int64  `json:"at"` // unix milliseconds
}

func (s *Service) openRevocations(ctx context.Context) error {
	ttl := s.cfg.Live.TokenTTL.D() + time.Minute
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: revocationsBucket, Description: "live viewer-token users revoked, until their tokens expire",
		Storage: jetstream.FileStorage, TTL: ttl,
	})
	if err != nil {
		return fmt.Errorf("live: bucket %s: %w", revocationsBucket, err)
	}
	r := &revocations{kv: kv, ttl: ttl, log: s.log, at: map[string]time.Time{},
		onRevoke: func(user string) { s.mqtt.Revoke(viewerOwner(user)) }}
	w, err := kv.WatchAll(context.Background()) // until close, not ctx: that only bounds the start
	if err != nil {
		return fmt.Errorf("live: watch %s: %w", revocationsBucket, err)
	}
	r.w = w
	_, _ = loop.Follow(context.Background(), w, func(e jetstream.KeyValueEntry, _ bool) { r.apply(e) })
	s.revoked = r
	return nil
}

func (r *revocations) apply(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		return
	}
	var rv revocation
	if err := json.Unmarshal(e.Value(), &rv); err != nil || rv.User == "" {
		r.log.Warn("live: skipping unreadable revocation", "key", e.Key())
		return
	}
	r.record(rv.User, time.UnixMilli(rv.At))
}

// record notes a revocation, then closes the user's connections here: in
// this order, a CONNECT racing it is refused by Client.Revoked or closed.
func (r *revocations) record(user string, at time.Time) {
	r.mu.Lock()
	if prev, ok := r.at[user]; !ok || at.After(prev) {
		r.at[user] = at
	}
	r.mu.Unlock()
	if r.onRevoke != nil {
		r.onRevoke(user)
	}
}

// revoke revokes user's tokens issued until now, on every process.
func (r *revocations) revoke(ctx context.Context, user string, now time.Time) (time.Time, error) {
	at := now.Truncate(time.Millisecond)
	raw, _ := json.Marshal(revocation{User: user, At: at.UnixMilli()})
	if _, err := r.kv.Put(ctx, base64.RawURLEncoding.EncodeToString([]byte(user)), raw); err != nil {
		return time.Time{}, fmt.Errorf("live: record the revocation: %w", err)
	}
	r.record(user, at) // here at once; the other processes through the watch
	return at, nil
}

// ended reports whether v's token was issued before its user's latest
// revocation.
func (r *revocations) ended(v Viewer) bool {
	r.mu.RLock()
	at, ok := r.at[v.User]
	r.mu.RUnlock()
	return ok && !v.Issued.After(at)
}

// prune forgets revocations older than a token's lifetime: every token
// they ended has expired.
func (r *revocations) prune() {
	cut := time.Now().Add(-r.ttl)
	r.mu.Lock()
	defer r.mu.Unlock()
	for u, at := range r.at {
		if at.Before(cut) {
			delete(r.at, u)
		}
	}
}

func (r *revocations) close() {
	if r.w != nil {
		r.w.Stop()
	}
}

// Owners of MQTT clients: a viewer-token user, an API key, and "" for the
// anonymous class.
func viewerOwner(user string) string { return "user:" + user }
func keyOwner(id string) string      { return "key:" + id }
