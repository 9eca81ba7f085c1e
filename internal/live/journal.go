package live

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/mqtt"
)

// The journal of MQTT persistent sessions (mqtt.Journal) is the
// LIVE_COMMENTS stream, which holds every accepted comment anyway: a
// position is a stream sequence (one moderation batch of a room) and the
// comment's index in it. A session's state (subscriptions, the last
// position sent, the comments in flight and their QoS 2 state) is one
// entry of the sessions bucket, written with compare-and-set so that
// only the process that holds the session writes it. Pinned messages,
// rejections and bridged topics are not journaled: they reach persistent
// sessions through Deliver, and are kept in one process's memory only.

var _ mqtt.Journal = hooks{}

const engineTimeout = 5 * time.Second

// Journaled reports whether topic is a room's comments (live/{room}/comments),
// without allocating: it is asked once per delivered batch.
func (h hooks) Journaled(topic string) bool {
	room, ok := strings.CutPrefix(topic, "live/")
	if !ok {
		return false
	}
	room, ok = strings.CutSuffix(room, "/comments")
	return ok && room != "" && !strings.Contains(room, "/")
}

// Head is the position of the newest comment of any room.
func (h hooks) Head() (mqtt.Position, error) {
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	info, err := h.s.comments.Info(ctx)
	if err != nil {
		return mqtt.Position{}, fmt.Errorf("live: %s: %w", commentsStream, err)
	}
	return mqtt.Position{Seq: info.State.LastSeq, Index: math.MaxUint32}, nil
}

// journalSubjects are the comment subjects a session's QoS 1 and 2
// filters reach (filters that pass canRead: live/{room|+}/{comments|+}),
// without overlaps, which a consumer refuses.
func journalSubjects(filters []mqtt.Filter) []string {
	rooms := map[string]bool{}
	for _, f := range filters {
		lv := strings.Split(f.Topic, "/")
		if f.QoS == 0 || len(lv) != 3 || lv[0] != "live" || (lv[2] != "comments" && lv[2] != "+") || lv[1] == "#" {
			continue
		}
		rooms[lv[1]] = true
	}
	// Comments stored before the republish are on the legacy subjects.
	if rooms["+"] {
		return []string{storedSubject("*"), legacyCommentsSubject("*")}
	}
	var subjects []string
	for r := range rooms {
		subjects = append(subjects, storedSubject(r), legacyCommentsSubject(r))
	}
	return subjects
}

// Follow reads the comments after position after in the rooms filters
// reach, through an ordered consumer (memory storage, no acks, deleted
// by the engine when left).
func (h hooks) Follow(filters []mqtt.Filter, after mqtt.Position) (mqtt.Feed, error) {
	subjects := journalSubjects(filters)
	if len(subjects) == 0 {
		return nil, nil
	}
	start, skip := after.Seq, after.Index
	if skip == math.MaxUint32 || start == 0 {
		start, skip = start+1, 0
	} else {
		skip++ // the first index not sent yet
	}
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	cons, err := h.s.js.OrderedConsumer(ctx, commentsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: subjects, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: start,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("live: follow %s: %w", commentsStream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(8))
	if err != nil {
		return nil, fmt.Errorf("live: follow %s: %w", commentsStream, err)
	}
	f := &journalFeed{js: h.s.js, cons: cons, it: it, firstSeq: start, skip: skip}
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		f.queue = append(f.queue, mqtt.JournalMessage{CaughtUp: true})
		f.caught = true
	}
	return f, nil
}

// journalFeed splits the stored batches of comments into messages.
type journalFeed struct {
	js       jetstream.JetStream
	cons     jetstream.Consumer
	it       jetstream.MessagesContext
	firstSeq uint64
	skip     uint32 // in the batch at firstSeq, the comments before this index were sent
	queue    []mqtt.JournalMessage
	caught   bool
}

func (f *journalFeed) Next(ctx context.Context) (mqtt.JournalMessage, error) {
	for len(f.queue) == 0 {
		msg, err := f.it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return mqtt.JournalMessage{}, err
		}
		md, err := msg.Metadata()
		if err != nil {
			return mqtt.JournalMessage{}, err
		}
		topic := storedTopic(msg.Subject())
		for i, line := range splitComments(msg.Data()) {
			if md.Sequence.Stream == f.firstSeq && uint32(i) < f.skip {
				continue
			}
			f.queue = append(f.queue, mqtt.JournalMessage{
				Message: mqtt.Message{Topic: topic, Payload: line, QoS: 2},
				Pos:     mqtt.Position{Seq: md.Sequence.Stream, Index: uint32(i)},
				Time:    md.Timestamp,
			})
		}
		if !f.caught && md.NumPending == 0 {
			f.caught = true
			f.queue = append(f.queue, mqtt.JournalMessage{CaughtUp: true})
		}
	}
	m := f.queue[0]
	f.queue[0] = mqtt.JournalMessage{}
	f.queue = f.queue[1:]
	return m, nil
}

// Stop stops reading and deletes the consumer, rather than leave it to
// the engine's inactivity threshold: a stream holds a bounded number of
// consumers.
func (f *journalFeed) Stop() {
	f.it.Stop()
	if info := f.cons.CachedInfo(); info != nil {
		ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
		defer cancel()
		f.js.DeleteConsumer(ctx, commentsStream, info.Name)
	}
}

// splitComments returns the comments of a stored message: one per line
// of a batch, or the message itself.
func splitComments(data []byte) [][]byte {
	var out [][]byte
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		if len(line) > 0 {
			out = append(out, line)
		}
	}
	return out
}

// Fetch reads one comment back for a redelivery.
func (h hooks) Fetch(pos mqtt.Position) (mqtt.Message, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	msgs, err := engine.DirectGet(ctx, h.s.nc, commentsStream, engine.GetRequest{Seq: pos.Seq, Limit: 1})
	if err != nil {
		return mqtt.Message{}, false, err
	}
	if len(msgs) == 0 || msgs[0].Seq != pos.Seq {
		return mqtt.Message{}, false, nil // aged out of the stream
	}
	lines := splitComments(msgs[0].Data)
	if int(pos.Index) >= len(lines) {
		return mqtt.Message{}, false, nil
	}
	subj := msgs[0].Header.Get("Nats-Subject")
	return mqtt.Message{Topic: storedTopic(subj), Payload: lines[pos.Index], QoS: 2}, true, nil
}

// LoadState reads a session's state. A viewer's session created before
// the user's latest revocation is not handed back: it is purged.
func (h hooks) LoadState(key string) (*mqtt.SessionState, uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	e, err := h.s.sessions.Get(ctx, sessionKey(key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("live: load session: %w", err)
	}
	var st mqtt.SessionState
	raw := e.Value()
	if len(raw) > 0 && raw[0] == '[' {
		// Saved by a version that kept subscriptions only.
		if err := json.Unmarshal(raw, &st.Filters); err != nil {
			return nil, e.Revision(), nil
		}
		head, err := h.Head()
		if err != nil {
			return nil, 0, err
		}
		st.Mark, st.Created, st.Seen = head, time.Now().UnixMilli(), time.Now().UnixMilli()
		return &st, e.Revision(), nil
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		h.s.log.Warn("live: unreadable MQTT session dropped", "err", err)
		return nil, e.Revision(), nil
	}
	if h.s.sessionRevoked(key, time.UnixMilli(st.Created)) {
		h.s.sessions.Purge(ctx, sessionKey(key))
		return nil, 0, nil
	}
	return &st, e.Revision(), nil
}

// sessionRevoked reports whether the owner of a session key is a viewer
// revoked at or after created.
func (s *Service) sessionRevoked(key string, created time.Time) bool {
	owner, _, ok := strings.Cut(key, "\x00")
	user, isUser := strings.CutPrefix(owner, "user:")
	if !ok || !isUser {
		return false
	}
	s.revoked.mu.RLock()
	at, found := s.revoked.at[user]
	s.revoked.mu.RUnlock()
	return found && !created.After(at)
}

// Discard purges a saved session unless it was written since it was
// read.
func (h hooks) Discard(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	e, err := h.s.sessions.Get(ctx, sessionKey(key))
	if err != nil {
		return // none (or the engine is away: the entry expires)
	}
	if err := h.s.sessions.Purge(ctx, sessionKey(key), jetstream.LastRevision(e.Revision())); err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		h.s.log.Warn("live: MQTT session not discarded", "err", err)
	}
}

// SaveState writes a session's state if nobody wrote it since rev.
func (h hooks) SaveState(key string, st *mqtt.SessionState, rev uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	raw, err := json.Marshal(st)
	if err != nil {
		return 0, err
	}
	var n uint64
	if rev == 0 {
		n, err = h.s.sessions.Create(ctx, sessionKey(key), raw)
	} else {
		n, err = h.s.sessions.Update(ctx, sessionKey(key), raw, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, mqtt.ErrSessionMoved
	}
	if err != nil {
		return 0, fmt.Errorf("live: save session: %w", err)
	}
	return n, nil
}
