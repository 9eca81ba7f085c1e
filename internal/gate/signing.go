package gate

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// signingKey is a cloud-held Ed25519 key. The private half never leaves
// the cloud's KV bucket; edges get PublicKey.
type signingKey struct {
	ID      uint32             `json:"id"`
	Private ed25519.PrivateKey `json:"private"`
	Created time.Time          `json:"created"`
	Retired bool               `json:"retired"`
}

func (k signingKey) public() PublicKey {
	return PublicKey{ID: k.ID, Public: k.Private.Public().(ed25519.PublicKey), Created: k.Created, Retired: k.Retired}
}

// signer holds the signing keys: the newest unretired one signs; every
// unretired one verifies.
type signer struct {
	kv   jetstream.KeyValue
	mu   sync.RWMutex
	keys map[uint32]signingKey
	// names are the bucket keys the signing keys are stored under (the id,
	// or firstKeyName for the first one).
	names map[uint32]string
}

func openSigner(ctx context.Context, js jetstream.JetStream) (*signer, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: "gate-signing", Description: "ticket signing keys (private; cloud only)", History: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("gate: signing keys: %w", err)
	}
	s := &signer{kv: kv, keys: map[uint32]signingKey{}, names: map[uint32]string{}}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	if _, ok := s.active(); !ok {
		if err := s.bootstrap(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// firstKeyName is the bucket key the first signing key is stored under.
// Every node that finds no active key tries to create it there; the
// engine lets only one create succeed, so nodes starting at once agree on
// one key instead of each making its own.
const firstKeyName = "first"

// bootstrap makes the first signing key, or takes the one another node
// made a moment earlier.
func (s *signer) bootstrap(ctx context.Context) error {
	k, err := newSigningKey(0)
	if err != nil {
		return err
	}
	raw, _ := json.Marshal(k)
	if _, err := s.kv.Create(ctx, firstKeyName, raw); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("gate: store the first signing key: %w", err)
	}
	if err := s.load(ctx); err != nil {
		return err
	}
	if _, ok := s.active(); !ok {
		return errors.New("gate: no active signing key after creating the first: rotate one with POST /v1/tickets/keys/rotate")
	}
	return nil
}

// newSigningKey makes a key with an id above floor (random when floor is
// 0, so ids of unrelated clouds differ).
func newSigningKey(floor uint32) (signingKey, error) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return signingKey{}, err
	}
	id := max(binary.BigEndian.Uint32(randomBytes(4)), floor)
	return signingKey{ID: id, Private: priv, Created: time.Now().UTC()}, nil
}

func (s *signer) load(ctx context.Context) error {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("gate: signing keys: %w", err)
	}
	for name := range lister.Keys() {
		e, err := s.kv.Get(ctx, name)
		if err != nil {
			return fmt.Errorf("gate: signing key %s: %w", name, err)
		}
		var k signingKey
		if err := json.Unmarshal(e.Value(), &k); err != nil || len(k.Private) != ed25519.PrivateKeySize {
			return fmt.Errorf("gate: signing key %s is corrupt", name)
		}
		s.mu.Lock()
		s.keys[k.ID], s.names[k.ID] = k, name
		s.mu.Unlock()
	}
	return nil
}

// active is the newest unretired key.
func (s *signer) active() (signingKey, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best signingKey
	found := false
	for _, k := range s.keys {
		if !k.Retired && (!found || k.ID > best.ID) {
			best, found = k, true
		}
	}
	return best, found
}

// rotate makes a new key the active one; older keys keep verifying.
func (s *signer) rotate(ctx context.Context) (signingKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var floor uint32
	for _, k := range s.keys {
		floor = max(floor, k.ID+1) // ids increase, so the newest is the largest
	}
	k, err := newSigningKey(floor)
	if err != nil {
		return signingKey{}, err
	}
	id := k.ID
	if err := s.store(ctx, k); err != nil {
		return signingKey{}, err
	}
	s.keys[id] = k
	return k, nil
}

// ErrNoKey means no such signing key.
var ErrNoKey = errors.New("no such signing key")

// retire stops key id from verifying anywhere. The last active key cannot
// be retired: rotate first.
func (s *signer) retire(ctx context.Context, id uint32) (signingKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return signingKey{}, ErrNoKey
	}
	active := 0
	for _, o := range s.keys {
		if !o.Retired && o.ID != id {
			active++
		}
	}
	if active == 0 {
		return signingKey{}, errors.New("it is the only active key: rotate first")
	}
	k.Retired = true
	if err := s.store(ctx, k); err != nil {
		return signingKey{}, err
	}
	s.keys[id] = k
	return k, nil
}

func (s *signer) store(ctx context.Context, k signingKey) error {
	raw, _ := json.Marshal(k)
	name := s.names[k.ID]
	if name == "" {
		name = strconv.FormatUint(uint64(k.ID), 10)
	}
	if _, err := s.kv.Put(ctx, name, raw); err != nil {
		return fmt.Errorf("gate: store signing key: %w", err)
	}
	return nil
}

// publics lists every key's public half, oldest first.
func (s *signer) publics() []PublicKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]PublicKey, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, k.public())
	}
	slices.SortFunc(out, func(a, b PublicKey) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
