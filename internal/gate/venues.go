package gate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// startVenue makes venue's control stream (what its edge mirrors), its
// scans stream (sourced from the edge's domain) and the view that follows
// it.
func (c *Cloud) startVenue(ctx, runCtx context.Context, venue string) (*venueView, error) {
	if _, err := c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              ctlStream(venue),
		Description:       "configuration, public keys and revocations for venue " + venue,
		Subjects:          []string{ctlSubjects(venue)},
		MaxMsgsPerSubject: 1,
		Storage:           jetstream.FileStorage,
	}); err != nil {
		return nil, fmt.Errorf("gate: venue %s control stream: %w", venue, err)
	}
	if _, err := c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cloudScansStream(venue),
		Description: "scan batches of venue " + venue + ", as its edge forwarded them",
		Subjects:    []string{cloudScansSubject(venue)},
		Storage:     jetstream.FileStorage,
		Duplicates:  fwdDuplicates,
	}); err != nil {
		return nil, fmt.Errorf("gate: venue %s scans stream: %w", venue, err)
	}
	version, err := c.publishConfig(ctx, venue)
	if err != nil {
		return nil, err
	}
	for _, k := range c.signer.publics() {
		if err := c.publishKey(ctx, venue, k); err != nil {
			return nil, err
		}
	}
	v, err := openView(ctx, c, venue, version)
	if err != nil {
		return nil, err
	}
	c.wg.Add(1)
	go func() { defer c.wg.Done(); v.follow(runCtx) }()
	return v, nil
}

// publishConfig publishes venue's configuration when it differs from the
// last published one, under the next version number.
func (c *Cloud) publishConfig(ctx context.Context, venue string) (int, error) {
	v := c.cfg.Venues[venue]
	vc := VenueConfig{Venue: venue, Gates: v.Gates, Settings: v.Effective}
	raw, _ := json.Marshal(vc)
	sum := sha256.Sum256(raw)
	hash := hex.EncodeToString(sum[:])
	stream, err := c.js.Stream(ctx, ctlStream(venue))
	if err != nil {
		return 0, err
	}
	prev, err := stream.GetLastMsgForSubject(ctx, configSubject(venue))
	if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, fmt.Errorf("gate: venue %s configuration: %w", venue, err)
	}
	if prev != nil {
		var old VenueConfig
		if json.Unmarshal(prev.Data, &old) == nil {
			if prev.Header.Get("Stadion-Config-Hash") == hash {
				return old.Version, nil
			}
			vc.Version = old.Version
		}
	}
	vc.Version++
	raw, _ = json.Marshal(vc)
	msg := &jetstreamMsg{subject: configSubject(venue), data: raw, hdr: map[string]string{"Stadion-Config-Hash": hash}}
	if err := msg.publish(ctx, c.js); err != nil {
		return 0, fmt.Errorf("gate: venue %s configuration: %w", venue, err)
	}
	c.log.Info("venue configuration published", "venue", venue, "version", vc.Version)
	return vc.Version, nil
}

func (c *Cloud) publishKey(ctx context.Context, venue string, k PublicKey) error {
	raw, _ := json.Marshal(k)
	m := &jetstreamMsg{subject: keySubject(venue, strconv.FormatUint(uint64(k.ID), 10)), data: raw}
	if err := m.publish(ctx, c.js); err != nil {
		return fmt.Errorf("gate: venue %s key %d: %w", venue, k.ID, err)
	}
	return nil
}

// publishKeyAll sends a key change to every venue.
func (c *Cloud) publishKeyAll(ctx context.Context, k PublicKey) error {
	for _, venue := range c.cfg.VenueNames() {
		if err := c.publishKey(ctx, venue, k); err != nil {
			return err
		}
	}
	return nil
}

// jetstreamMsg is a JetStream publish with headers, awaited.
type jetstreamMsg struct {
	subject string
	data    []byte
	hdr     map[string]string
}

func (m *jetstreamMsg) publish(ctx context.Context, js jetstream.JetStream) error {
	nm := newMsg(m.subject, m.data)
	for k, v := range m.hdr {
		nm.Header.Set(k, v)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := js.PublishMsg(ctx, nm)
	return err
}
