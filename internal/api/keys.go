package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/loop"
)

// KeysBucket is the JetStream key-value bucket holding API keys (hashed).
const KeysBucket = "stadion-keys"

// keyPrefix starts every stadion API key, so that a leaked key is easy to
// recognise in a secret scanner.
const keyPrefix = "stk_"

// ErrUnknownKey is returned for a key that does not exist or was revoked.
var ErrUnknownKey = errors.New("unknown API key")

// KeyRecord is what is stored for a key: never the key itself.
type KeyRecord struct {
	ID      string    `json:"id"`
	Client  string    `json:"client"`
	Hash    string    `json:"hash"` // hex SHA-256 of the whole key
	Created time.Time `json:"created"`
	// Role is the role of a key of the admin client (roles.go); empty
	// means RoleAdmin (the key of admin.key, keys made before roles).
	Role string `json:"role,omitempty"`
	// Label names the person or system holding the key ("Li Wei").
	Label string `json:"label,omitempty"`
	// File marks the key of a server's admin.key: the data directory's
	// owner, who holds the engine's files anyway. Only it keeps every
	// right over plain NATS (engine.Protect).
	File bool `json:"file,omitempty"`
}

// AdminRole is the role of an admin client's key ("" for other clients).
func (r KeyRecord) AdminRole() string {
	if r.Client != AdminClient {
		return ""
	}
	if r.Role == "" {
		return RoleAdmin
	}
	return r.Role
}

// Keys stores API keys hashed in a JetStream KV bucket and keeps an
// in-memory copy that follows the bucket (so a revocation on one replica
// reaches all). Keys are 256 random bits, so a single SHA-256 is a sound
// hash: there is nothing to brute-force. Safe for concurrent use.
type Keys struct {
	kv  jetstream.KeyValue
	log *slog.Logger

	mu       sync.RWMutex
	byID     map[string]KeyRecord
	live     map[string]keyLife // per key id: cancelled when the key goes
	onRevoke []func(KeyRecord)
}

// keyLife is a context that ends when its key is revoked.
type keyLife struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// OpenKeys opens (creating if needed) the keys bucket and starts following
// it until ctx ends. It returns once the current keys are loaded.
func OpenKeys(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*Keys, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: KeysBucket, Description: "stadion API keys (SHA-256 hashes)", History: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("keys: open bucket: %w", err)
	}
	k := &Keys{kv: kv, log: log, byID: map[string]KeyRecord{}, live: map[string]keyLife{}}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: watch: %w", err)
	}
	if _, err := loop.Follow(ctx, w, func(e jetstream.KeyValueEntry, _ bool) { k.apply(e) }); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *Keys) apply(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		k.forget(e.Key())
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var rec KeyRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		k.log.Warn("keys: skipping unreadable record", "id", e.Key(), "err", err)
		return
	}
	k.byID[e.Key()] = rec
}

// Create makes a new key for client and stores its hash. The key is
// returned once and never again.
func (k *Keys) Create(ctx context.Context, client string) (key string, rec KeyRecord, err error) {
	return k.CreateLabelled(ctx, client, "", "")
}

// CreateLabelled is Create with a role (admin client only: viewer,
// operator or admin) and a label naming who holds the key.
func (k *Keys) CreateLabelled(ctx context.Context, client, role, label string) (key string, rec KeyRecord, err error) {
	if role != "" && (client != AdminClient || !ValidRole(role)) {
		return "", KeyRecord{}, fmt.Errorf("keys: role %q is not a role of the admin client", role)
	}
	id, secret := randomHex(8), randomSecret()
	key = keyPrefix + id + "_" + secret
	rec = KeyRecord{ID: id, Client: client, Hash: hashKey(key), Created: time.Now().UTC(), Role: role, Label: label}
	if err := k.store(ctx, rec); err != nil {
		return "", KeyRecord{}, err
	}
	return key, rec, nil
}

// Register stores the hash of an existing key (the admin key file) if it
// is not stored yet.
func (k *Keys) Register(ctx context.Context, key, client string) error {
	id, ok := parseKeyID(key)
	if !ok {
		return fmt.Errorf("keys: malformed key for %s", client)
	}
	if rec, ok := k.lookupID(id); ok && rec.Hash == hashKey(key) && rec.File {
		return nil
	}
	return k.store(ctx, KeyRecord{ID: id, Client: client, Hash: hashKey(key), Created: time.Now().UTC(), File: true})
}

func (k *Keys) store(ctx context.Context, rec KeyRecord) error {
	val, _ := json.Marshal(rec)
	if _, err := k.kv.Put(ctx, rec.ID, val); err != nil {
		return fmt.Errorf("keys: store: %w", err)
	}
	k.mu.Lock()
	k.byID[rec.ID] = rec
	k.mu.Unlock()
	return nil
}

// Revoke deletes key id of client.
func (k *Keys) Revoke(ctx context.Context, client, id string) error {
	rec, ok := k.lookupID(id)
	if !ok || rec.Client != client {
		return ErrUnknownKey
	}
	if err := k.kv.Delete(ctx, id); err != nil {
		return fmt.Errorf("keys: revoke: %w", err)
	}
	k.forget(id)
	return nil
}

// forget drops key id, ends its Revoked context and tells the OnRevoke
// callbacks. It runs on every replica when the bucket's watch sees the
// delete (and at once on the replica that revoked), so it is idempotent.
func (k *Keys) forget(id string) {
	k.mu.Lock()
	rec, had := k.byID[id]
	delete(k.byID, id)
	life, live := k.live[id]
	delete(k.live, id)
	hooks := k.onRevoke
	k.mu.Unlock()
	if live {
		life.cancel()
	}
	if !had {
		return
	}
	for _, f := range hooks {
		f(rec)
	}
}

// Revoked returns a context that is cancelled once key id is revoked, on
// this replica or any other (within the bucket watch's delay, well under a
// second). For an unknown id it is already cancelled. Long-lived uses of a
// key (streams, connections) end with it; see Principal.Bind.
func (k *Keys) Revoked(id string) context.Context {
	// Every authenticated request asks: the usual answer needs only the
	// read lock.
	k.mu.RLock()
	life, ok := k.live[id]
	k.mu.RUnlock()
	if ok {
		return life.ctx
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if life, ok := k.live[id]; ok {
		return life.ctx
	}
	ctx, cancel := context.WithCancel(context.Background())
	if _, ok := k.byID[id]; !ok {
		cancel()
		return ctx
	}
	k.live[id] = keyLife{ctx: ctx, cancel: cancel}
	return ctx
}

// OnRevoke registers f to be called with the record of every key revoked
// from now on, on this replica or any other. f runs on the bucket's watch
// goroutine: it must not block (close connections, do not wait for them).
func (k *Keys) OnRevoke(f func(KeyRecord)) {
	k.mu.Lock()
	k.onRevoke = append(k.onRevoke, f)
	k.mu.Unlock()
}

// List returns the records of client's keys (all clients' when client is "").
func (k *Keys) List(client string) []KeyRecord {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var out []KeyRecord
	for _, rec := range k.byID {
		if client == "" || rec.Client == client {
			out = append(out, rec)
		}
	}
	return out
}

// Lookup returns the record of a presented key, or ErrUnknownKey.
func (k *Keys) Lookup(key string) (KeyRecord, error) {
	id, ok := parseKeyID(key)
	if !ok {
		return KeyRecord{}, ErrUnknownKey
	}
	rec, ok := k.lookupID(id)
	if !ok || subtle.ConstantTimeCompare([]byte(rec.Hash), []byte(hashKey(key))) != 1 {
		return KeyRecord{}, ErrUnknownKey
	}
	return rec, nil
}

// Record returns the record of key id.
func (k *Keys) Record(id string) (KeyRecord, bool) { return k.lookupID(id) }

func (k *Keys) lookupID(id string) (KeyRecord, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	rec, ok := k.byID[id]
	return rec, ok
}

// parseKeyID extracts the id from stk_<id>_<secret>.
func parseKeyID(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, keyPrefix)
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 16 || len(secret) < 32 {
		return "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", false
	}
	return id, true
}

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
