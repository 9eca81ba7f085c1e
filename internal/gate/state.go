package gate

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/config"
)

// ctlState is what the edge knows from the cloud: public keys, the venue
// configuration and revocations, rebuilt from its local mirror of the
// venue's control stream (so it survives restarts while the link is cut).
type ctlState struct {
	venue   string
	mu      sync.RWMutex
	keys    map[uint32]PublicKey
	revoked map[string]time.Time
	cfg     VenueConfig
	applied uint64            // highest control-stream sequence applied
	seqs    map[string]uint64 // per subject: the sequence applied
	log     *slog.Logger
}

func newCtlState(venue string, log *slog.Logger) *ctlState {
	return &ctlState{
		venue: venue,
		keys:  map[uint32]PublicKey{}, revoked: map[string]time.Time{}, seqs: map[string]uint64{}, log: log,
		cfg: VenueConfig{Venue: venue, Settings: defaultEdgeSettings()},
	}
}

// defaultEdgeSettings apply until the cloud's configuration arrives.
func defaultEdgeSettings() config.EdgeSettings {
	return config.EdgeSettings{
		Reentry: config.ReentryDeny, ClockSkew: config.Duration(2 * time.Minute),
		MaxBatch: 256, Heartbeat: config.Duration(2 * time.Second),
	}
}

// follow applies the mirror from the start, returning once everything
// stored at call time is applied; it keeps applying until ctx ends.
func (s *ctlState) follow(ctx context.Context, js jetstream.JetStream) error {
	stream, err := js.Stream(ctx, edgeStateStream)
	if err != nil {
		return err
	}
	last := stream.CachedInfo().State.LastSeq
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return err
	}
	caught := make(chan struct{})
	var once sync.Once
	if last == 0 {
		once.Do(func() { close(caught) })
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			return
		}
		cloudSeq, err := strconv.ParseUint(m.Headers().Get(ctlSeqHeader), 10, 64)
		if err == nil {
			s.apply(ctlPrefix(s.venue)+strings.TrimPrefix(m.Subject(), edgeStatePrefix), m.Data(), cloudSeq)
		}
		if meta.Sequence.Stream >= last {
			once.Do(func() { close(caught) })
		}
	})
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); cc.Stop() }()
	select {
	case <-caught:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(30 * time.Second):
		return fmt.Errorf("gate: local control state not replayed within 30s")
	}
}

// apply takes one control message, by its subject
// gate.<venue>.ctl.(config|key.<id>|revoke.<ticket>). Messages come from
// the local mirror and from the cloud's catch-up answers, in any order;
// the cloud's sequence (which the mirror keeps) orders them per subject.
func (s *ctlState) apply(subject string, data []byte, seq uint64) {
	parts := strings.SplitN(subject, ".", 5)
	if len(parts) < 4 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq <= s.seqs[subject] {
		return
	}
	s.seqs[subject] = seq
	s.applied = max(s.applied, seq)
	switch parts[3] {
	case "config":
		var vc VenueConfig
		if err := json.Unmarshal(data, &vc); err == nil && vc.Venue == s.cfg.Venue {
			vc.Settings = defaultEdgeSettings().Merge(vc.Settings)
			if vc.Version != s.cfg.Version {
				s.log.Info("venue configuration applied", "version", vc.Version)
			}
			s.cfg = vc
		}
	case "key":
		var k PublicKey
		if err := json.Unmarshal(data, &k); err == nil && len(k.Public) == ed25519.PublicKeySize {
			s.keys[k.ID] = k
		}
	case "revoke":
		var r Revocation
		if err := json.Unmarshal(data, &r); err == nil && r.Ticket != "" {
			if _, seen := s.revoked[r.Ticket]; !seen {
				s.log.Info("ticket revoked", "ticket", r.Ticket)
			}
			s.revoked[r.Ticket] = r.At
		}
	}
}

// newer reports whether seq is after the one applied for subject.
func (s *ctlState) newer(subject string, seq uint64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return seq > s.seqs[subject]
}

func (s *ctlState) key(id uint32) (PublicKey, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[id]
	return k, ok && !k.Retired
}

func (s *ctlState) isRevoked(ticket string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.revoked[ticket]
	return ok
}

func (s *ctlState) config() VenueConfig {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cfg
}

type ctlSummary struct {
	ConfigVersion int      `json:"config_version"`
	Keys          []string `json:"keys"`
	Revoked       int      `json:"revoked"`
	Applied       uint64   `json:"control_seq"`
}

func (s *ctlState) summary() ctlSummary {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := ctlSummary{ConfigVersion: s.cfg.Version, Revoked: len(s.revoked), Applied: s.applied}
	for id, k := range s.keys {
		state := "active"
		if k.Retired {
			state = "retired"
		}
		out.Keys = append(out.Keys, strconv.FormatUint(uint64(id), 10)+":"+state)
	}
	return out
}
