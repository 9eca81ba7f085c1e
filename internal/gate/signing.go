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

	"github.com/stadion-dev/stadion/internal/loop"
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
// unretired one verifies. Every node follows the bucket, so a key rotated
// or retired on one node is the same on all; writes compare and set (a
// new key is created, never put over one; a retire updates the revision
// it read), so nodes changing keys at once never overwrite each other.
type signer struct {
	kv   jetstream.KeyValue
	mu   sync.RWMutex
	keys map[uint32]signingKey
	// names are the bucket keys the signing keys are stored under (the id,
	// or firstKeyName for the first one), revs their last revisions.
	names map[uint32]string
	revs  map[uint32]uint64
}

// openSigner opens the bucket and follows it until ctx ends.
func openSigner(ctx context.Context, js jetstream.JetStream) (*signer, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: "gate-signing", Description: "ticket signing keys (private; cloud only)", History: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("gate: signing keys: %w", err)
	}
	s := &signer{kv: kv, keys: map[uint32]signingKey{}, names: map[uint32]string{}, revs: map[uint32]uint64{}}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("gate: signing keys: %w", err)
	}
	var corrupt error
	if _, err := loop.Follow(ctx, w, func(e jetstream.KeyValueEntry, initial bool) {
		if err := s.apply(e); err != nil && initial {
			corrupt = err
		}
	}); err != nil {
		return nil, fmt.Errorf("gate: signing keys: %w", err)
	}
	if corrupt != nil {
		return nil, corrupt
	}
	if _, ok := s.active(); !ok {
		if err := s.bootstrap(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// apply takes a bucket entry into the signer, unless it is older than
// what the signer has.
func (s *signer) apply(e jetstream.KeyValueEntry) error {
	if e.Operation() != jetstream.KeyValuePut {
		return nil // keys are retired, never deleted
	}
	var k signingKey
	if err := json.Unmarshal(e.Value(), &k); err != nil || len(k.Private) != ed25519.PrivateKeySize {
		return fmt.Errorf("gate: signing key %s is corrupt", e.Key())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Revision() >= s.revs[k.ID] {
		s.keys[k.ID], s.names[k.ID], s.revs[k.ID] = k, e.Key(), e.Revision()
	}
	return nil
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

// load reads every key from the bucket, so that a change another node
// made a moment ago is in before a decision (the watch may lag).
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
		if err := s.apply(e); err != nil {
			return err
		}
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

// rotate makes a new key the active one; older keys keep verifying. Its
// id is above every key in the bucket, and it is created, never put: a
// node rotating at the same moment makes another key under another name,
// both verify, and every node signs with the larger.
func (s *signer) rotate(ctx context.Context) (signingKey, error) {
	for range 5 {
		if err := s.load(ctx); err != nil {
			return signingKey{}, err
		}
		s.mu.RLock()
		var floor uint32
		for _, k := range s.keys {
			floor = max(floor, k.ID+1) // ids increase, so the newest is the largest
		}
		s.mu.RUnlock()
		k, err := newSigningKey(floor)
		if err != nil {
			return signingKey{}, err
		}
		raw, _ := json.Marshal(k)
		name := strconv.FormatUint(uint64(k.ID), 10)
		rev, err := s.kv.Create(ctx, name, raw)
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue // another node took this id a moment ago
		}
		if err != nil {
			return signingKey{}, fmt.Errorf("gate: store signing key: %w", err)
		}
		s.mu.Lock()
		if rev >= s.revs[k.ID] {
			s.keys[k.ID], s.names[k.ID], s.revs[k.ID] = k, name, rev
		}
		s.mu.Unlock()
		return k, nil
	}
	return signingKey{}, errors.New("gate: rotate: other nodes kept taking the new key's id; try again")
}

// ErrNoKey means no such signing key.
var ErrNoKey = errors.New("no such signing key")

// retire stops key id from verifying anywhere. The active key (the newest
// unretired one) cannot be retired: rotate first. So two admins retiring
// two keys on two nodes at once can never leave no key to sign with: each
// leaves the newest key it sees, and a key newer than that was made by a
// rotation, unretired. It updates the revision it read, so a retire never
// writes over another node's change to the key.
func (s *signer) retire(ctx context.Context, id uint32) (signingKey, error) {
	for range 5 {
		if err := s.load(ctx); err != nil {
			return signingKey{}, err
		}
		s.mu.RLock()
		k, ok := s.keys[id]
		name, rev := s.names[id], s.revs[id]
		s.mu.RUnlock()
		if !ok {
			return signingKey{}, ErrNoKey
		}
		if k.Retired {
			return k, nil
		}
		if a, _ := s.active(); a.ID == id {
			return signingKey{}, errors.New("it is the active key, which signs new tickets: rotate first, then retire it")
		}
		k.Retired = true
		raw, _ := json.Marshal(k)
		newRev, err := s.kv.Update(ctx, name, raw, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // changed since it was read: look again
		}
		if err != nil {
			return signingKey{}, fmt.Errorf("gate: store signing key: %w", err)
		}
		s.mu.Lock()
		if newRev >= s.revs[id] {
			s.keys[id], s.revs[id] = k, newRev
		}
		s.mu.Unlock()
		return k, nil
	}
	return signingKey{}, errors.New("gate: retire: the key kept changing on other nodes; try again")
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
