package live

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/engine"
)

// Engine names owned by live.
const (
	postsStream    = "LIVE_POSTS"
	postsSubject   = "live.posts"
	commentsStream = "LIVE_COMMENTS"
	liveBucket     = "stadion-live"
	retainedBucket = "stadion-live-retained"
	sessionsBucket = "stadion-live-sessions"
	tokenKeyName   = "token-key"
	dedupeWindow   = 2 * time.Minute
	// commentsMaxConsumers lifts the engine's default of 1,000 consumers
	// per stream: every persistent MQTT session online with a QoS 1 or 2
	// comment subscription reads LIVE_COMMENTS through a consumer of its
	// own (bounded by live.mqtt.max_connections per process).
	commentsMaxConsumers = 1 << 20
)

// Subjects: an MQTT topic a/b/c travels on the engine as mq.a.b.c.
func topicSubject(topic string) string { return "mq." + strings.ReplaceAll(topic, "/", ".") }

func subjectTopic(subject string) string {
	return strings.ReplaceAll(strings.TrimPrefix(subject, "mq."), ".", "/")
}

func filterSubject(filter string) string {
	levels := strings.Split(filter, "/")
	for i, lv := range levels {
		switch lv {
		case "+":
			levels[i] = "*"
		case "#":
			levels[i] = ">"
		}
	}
	return "mq." + strings.Join(levels, ".")
}

func commentsTopic(room string) string { return "live/" + room + "/comments" }

// Accepted comments are written to storedSubject(room), which only
// LIVE_COMMENTS captures and nobody subscribes to; the stream republishes
// each message it stored, once, in stream order, to the room's topic
// subject that viewers watch (storedRepublish). A batch published again
// by a worker that took over a redelivered batch is not stored (same
// dedupe id), so it is not republished: viewers never get a comment
// twice, and history holds every comment a viewer got.
const storedPrefix = "live.comments."

func storedSubject(room string) string { return storedPrefix + room }

// storedTopic is the MQTT topic of a LIVE_COMMENTS message's subject:
// live.comments.<room>, or mq.live.<room>.comments for comments stored
// before the republish (kept up to 24 h after an upgrade).
func storedTopic(subject string) string {
	if room, ok := strings.CutPrefix(subject, storedPrefix); ok {
		return commentsTopic(room)
	}
	return subjectTopic(subject)
}

// legacyCommentsSubject is the subject comments were stored on before
// the republish: still read (history, persistent sessions) until those
// comments age out.
func legacyCommentsSubject(room string) string { return topicSubject(commentsTopic(room)) }

var storedRepublish = &jetstream.RePublish{
	Source:      storedPrefix + "*",
	Destination: "mq.live.{{wildcard(1)}}.comments",
}

func pinnedTopic(room string) string { return "live/" + room + "/pinned" }
func rejectedTopic(room, user string) string {
	return "live/" + room + "/rejected/" + user
}

func (s *Service) openStorage(ctx context.Context) error {
	var err error
	if _, err = s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: postsStream, Description: "live comment posts waiting for moderation (batches)",
		Subjects: []string{postsSubject}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, MaxAge: time.Hour, Duplicates: dedupeWindow,
		// A post is written to the operating system within milliseconds but
		// not fsynced before its PUBACK: the fsync was most of an idle
		// pipeline's latency (docs/ARCHITECTURE.md, "Live comments"). A
		// crash may lose the last milliseconds of posts (and of accepted
		// comments, LIVE_COMMENTS being async too), never store one
		// twice (dedupe ids).
		PersistMode: s.commentPersistMode(),
	}); err != nil {
		return fmt.Errorf("live: stream %s: %w", postsStream, err)
	}
	if s.comments, err = s.js.CreateOrUpdateStream(ctx, s.commentsConfig(ctx)); err != nil {
		return fmt.Errorf("live: stream %s: %w", commentsStream, err)
	}
	if s.bucket, err = s.kv(ctx, liveBucket, "live comments: token key and room states"); err != nil {
		return err
	}
	if s.sessions, err = s.sessionsKV(ctx); err != nil {
		return err
	}
	rkv, err := s.kv(ctx, retainedBucket, "MQTT retained messages (pinned comments, bridged topics)")
	if err != nil {
		return err
	}
	if s.retained, err = openRetained(rkv, s.bridge.pending, s.log); err != nil {
		return err
	}
	if s.rooms, err = openRooms(s.bucket, s.log); err != nil {
		return err
	}
	key, err := s.tokenKey(ctx)
	if err != nil {
		return err
	}
	s.tokens = &tokens{key: key, ttl: s.cfg.Live.TokenTTL.D()}
	return s.openRevocations(ctx)
}

// commentsConfig is LIVE_COMMENTS' configuration. A stream made by a
// version before the republish is updated in place: its subjects change
// (the engine refuses a republish destination among the stream's
// subjects), the comments it holds keep theirs and are still read. The
// engine cannot change a stream's persist mode, so such a stream keeps
// fsyncing every write until it is deleted (docs/ARCHITECTURE.md,
// "Durability").
func (s *Service) commentsConfig(ctx context.Context) jetstream.StreamConfig {
	cfg := jetstream.StreamConfig{
		Name: commentsStream, Description: "accepted live comments, per room, for history",
		Subjects: []string{storedPrefix + "*"}, RePublish: storedRepublish, Storage: jetstream.FileStorage,
		MaxMsgsPerSubject: int64(s.cfg.Live.History), MaxAge: 24 * time.Hour, Duplicates: dedupeWindow,
		AllowDirect: true, MaxConsumers: commentsMaxConsumers,
		// Viewers get a comment once it is stored (the republish), so
		// an fsync here would sit on every comment's way to viewers: it
		// tripled an idle pipeline's p50 (docs/ARCHITECTURE.md, "Live
		// comments"). A crash may lose the last milliseconds of
		// comments; the dedupe ids and the republish (after the store,
		// in stream order) still keep any from going out twice or out
		// of order.
		PersistMode: s.commentPersistMode(),
	}
	if st, err := s.js.Stream(ctx, commentsStream); err == nil {
		if mode := st.CachedInfo().Config.PersistMode; mode != cfg.PersistMode {
			s.log.Info("live: LIVE_COMMENTS, made by an older version, keeps its persist mode (the engine cannot change it): comments are stored as durability says before viewers get them", "mode", mode)
			cfg.PersistMode = mode
		}
	}
	return cfg
}

// commentPersistMode is the persist mode of the live streams (posts and
// accepted comments): async, not fsynced before the ack, when the engine
// keeps one copy. The engine refuses the async mode on a replicated
// stream (engine.replicas 3 or 5), whose copies on other nodes make a
// write survive a node's crash instead, and which is flushed lazily
// unless durability says always.
func (s *Service) commentPersistMode() jetstream.PersistModeType {
	if s.cfg.Engine.Replicas > 1 {
		return jetstream.DefaultPersistMode
	}
	return jetstream.AsyncPersistMode
}

func (s *Service) kv(ctx context.Context, bucket, what string) (jetstream.KeyValue, error) {
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: bucket, Description: what, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("live: bucket %s: %w", bucket, err)
	}
	return kv, nil
}

// sessionsKV opens the bucket of MQTT persistent sessions. An online
// session rewrites its entry at least every quarter of the expiry, an
// offline one when it left: entries older than twice the expiry belong
// to sessions no process holds any more (their process died) and are
// collected by the engine.
func (s *Service) sessionsKV(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: sessionsBucket, Description: "MQTT persistent sessions: subscriptions, what was sent, what is in flight",
		Storage: jetstream.FileStorage, TTL: 2 * s.cfg.Live.MQTT.SessionExpiry.D(),
	})
	if err != nil {
		return nil, fmt.Errorf("live: bucket %s: %w", sessionsBucket, err)
	}
	return kv, nil
}

// tokenKey returns the shared token signing key, creating it on first
// start (the first process to create it wins; the others read it).
func (s *Service) tokenKey(ctx context.Context) ([]byte, error) {
	key := make([]byte, 32)
	rand.Read(key)
	v, err := engine.SharedValue(ctx, s.bucket, tokenKeyName, key)
	if err != nil {
		return nil, fmt.Errorf("live: token key: %w", err)
	}
	return v, nil
}

// hasRoom reports whether the configuration lets viewers into room.
func (s *Service) hasRoom(room string) bool { return s.cfg.Live.HasRoom(room) }
