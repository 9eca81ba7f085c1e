package gate

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/loop"
)

// Credentials is the file `POST /v1/venues/{venue}/credentials` returns
// and `stadion edge --creds` reads. It lets one edge link to the cloud as
// its venue and nothing else.
type Credentials struct {
	Venue    string `json:"venue"`
	Password string `json:"password"`
	// Cloud is the cloud's leafnode URL as the cloud knows it (a hint;
	// --cloud overrides it).
	Cloud string `json:"cloud,omitempty"`
}

// credStore keeps the hashes of venue secrets in a KV bucket and a copy in
// memory that follows it, for the engine's leafnode authorizer.
type credStore struct {
	kv      jetstream.KeyValue
	venues  map[string]bool
	mu      sync.RWMutex
	hashes  map[string]string
	changed atomic.Pointer[func(venue string)]
}

var _ engine.LeafAuthorizer = (*credStore)(nil)

func openCredStore(ctx context.Context, js jetstream.JetStream, cfg *config.Config) (*credStore, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: "gate-creds", Description: "hashed venue edge secrets", History: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("gate: credentials bucket: %w", err)
	}
	s := &credStore{kv: kv, venues: map[string]bool{}, hashes: map[string]string{}}
	for _, v := range cfg.VenueNames() {
		s.venues[v] = true
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := loop.Follow(ctx, w, func(e jetstream.KeyValueEntry, initial bool) {
		s.apply(e)
		if f := s.changed.Load(); f != nil && !initial {
			(*f)(e.Key())
		}
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// onChange calls f with the venue whenever its credentials are replaced
// or revoked, on every replica (each follows the bucket), after the
// authorizer already refuses the old secret.
func (s *credStore) onChange(f func(venue string)) { s.changed.Store(&f) }

func (s *credStore) apply(e jetstream.KeyValueEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(s.hashes, e.Key())
		return
	}
	s.hashes[e.Key()] = string(e.Value())
}

// issue makes a new secret for venue, replacing the previous one (an edge
// still using it is refused at its next connection).
func (s *credStore) issue(ctx context.Context, venue string) (string, error) {
	secret := hex.EncodeToString(randomBytes(32))
	if _, err := s.kv.Put(ctx, venue, []byte(hashSecret(secret))); err != nil {
		return "", fmt.Errorf("gate: store venue credentials: %w", err)
	}
	s.mu.Lock()
	s.hashes[venue] = hashSecret(secret)
	s.mu.Unlock()
	return secret, nil
}

// revoke removes venue's credentials: its edge is refused from now on
// and its open links are closed (onChange).
func (s *credStore) revoke(ctx context.Context, venue string) error {
	s.mu.Lock()
	delete(s.hashes, venue)
	s.mu.Unlock()
	if err := s.kv.Delete(ctx, venue); err != nil {
		return fmt.Errorf("gate: revoke venue credentials: %w", err)
	}
	return nil
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// LeafAuthorize admits the edge of a configured venue whose secret
// matches, limited to that venue's subjects.
func (s *credStore) LeafAuthorize(user, password string) (string, *engine.Permissions, bool) {
	if !s.venues[user] {
		return "", nil, false
	}
	s.mu.RLock()
	want, ok := s.hashes[user]
	s.mu.RUnlock()
	if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(hashSecret(password))) != 1 {
		return "", nil, false
	}
	return venueUser(user), VenuePermissions(user), true
}

// venueUser is the engine user a venue's edge links as.
func venueUser(venue string) string { return "venue:" + venue }

// VenuePermissions are what a venue's edge may send into the cloud
// (Publish) and receive from it (Subscribe): exactly the link protocol
// (see proto.go), all of it under gate.<venue>. It reaches no JetStream
// API, stream, bucket or consumer of the cloud, and no other venue.
func VenuePermissions(venue string) *engine.Permissions {
	return &engine.Permissions{
		Publish: []string{
			syncSubject(venue),
			fwdSubject(venue),
			hbSubject(venue),
			replyPrefix(venue) + "*",
		},
		Subscribe: []string{
			ctlSubjects(venue),
			diagSubject(venue, "*"),
			syncReplyPrefix(venue) + "*",
			fwdReplyPrefix(venue) + "*",
		},
	}
}

// issueCredentials is POST /v1/venues/{venue}/credentials (admin).
func (c *Cloud) issueCredentials(w http.ResponseWriter, r *http.Request) error {
	if err := api.RequireAdmin(r); err != nil {
		return err
	}
	venue := r.PathValue("venue")
	if _, ok := c.views[venue]; !ok {
		return api.NotFound(fmt.Sprintf("no venue %q in the configuration (venues: %v)", venue, c.cfg.VenueNames()))
	}
	secret, err := c.creds.issue(r.Context(), venue)
	if err != nil {
		return api.Unavailable(err.Error())
	}
	c.log.Info("venue credentials issued", "venue", venue, "at", time.Now().UTC())
	api.WriteJSON(w, http.StatusCreated, Credentials{Venue: venue, Password: secret, Cloud: c.eng.LeafURL()})
	return nil
}

// revokeCredentials is DELETE /v1/venues/{venue}/credentials (admin): the
// venue's edge is refused from now on and its open links close, on every
// replica.
func (c *Cloud) revokeCredentials(w http.ResponseWriter, r *http.Request) error {
	if err := api.RequireAdmin(r); err != nil {
		return err
	}
	venue := r.PathValue("venue")
	if _, ok := c.views[venue]; !ok {
		return api.NotFound(fmt.Sprintf("no venue %q in the configuration (venues: %v)", venue, c.cfg.VenueNames()))
	}
	if err := c.creds.revoke(r.Context(), venue); err != nil {
		return api.Unavailable("the venue's credentials could not be revoked; try again")
	}
	c.log.Info("venue credentials revoked", "venue", venue)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ParseCredentials reads a credentials file's bytes.
func ParseCredentials(raw []byte) (Credentials, error) {
	var cr Credentials
	if err := json.Unmarshal(raw, &cr); err != nil {
		return cr, fmt.Errorf("credentials: not a stadion venue credentials file: %w", err)
	}
	if !config.ValidName(cr.Venue) || cr.Password == "" {
		return cr, fmt.Errorf("credentials: missing venue or password; get a new file with POST /v1/venues/VENUE/credentials")
	}
	return cr, nil
}
