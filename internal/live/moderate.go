package live

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/loop"
)

const moderatorsConsumer = "moderators"

// moderationAckWait is how long a batch a worker took stays its own: a
// batch takes milliseconds, so a worker silent this long has died and
// the batch goes to another.
const moderationAckWait = 10 * time.Second

// startWorkers runs the configured number of moderation workers on the
// shared durable consumer: batches spread over every worker of every
// process, and a batch a worker took but did not finish goes to another
// after the ack wait.
func (s *Service) startWorkers(ctx, bg context.Context) error {
	cons, err := s.js.CreateOrUpdateConsumer(ctx, postsStream, jetstream.ConsumerConfig{
		Durable: moderatorsConsumer, Description: "live comment moderation workers",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: moderationAckWait,
		MaxAckPending: 1024, FilterSubject: postsSubject,
	})
	if err != nil {
		return fmt.Errorf("live: consumer %s: %w", moderatorsConsumer, err)
	}
	s.limits, s.retries = newLimiter(), newRetries()
	for range s.cfg.Live.Workers {
		s.run(func() { s.work(bg, cons) })
	}
	return nil
}

// workerPipeline is how many batches one worker keeps between deciding
// and acking: it decides the next batch while the engine stores the
// comments of the previous ones.
const workerPipeline = 64

func (s *Service) work(ctx context.Context, cons jetstream.Consumer) {
	stored := make(chan *moderated, workerPipeline)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range stored {
			s.finish(ctx, b)
		}
	}()
	defer func() { close(stored); <-done }()
	for ctx.Err() == nil {
		it, err := cons.Messages(jetstream.PullMaxMessages(workerPipeline))
		if err != nil {
			s.log.Warn("moderation worker cannot pull; retrying", "err", err)
			loop.Sleep(ctx, time.Second)
			continue
		}
		stop := context.AfterFunc(ctx, it.Stop)
		for {
			msg, err := it.Next()
			if err != nil {
				break
			}
			stored <- s.moderate(msg)
		}
		stop()
		it.Stop()
	}
}

// decided is one post's outcome inside a batch.
type decided struct {
	p  post
	c  *Comment
	rj *Rejection
}

// moderated is a batch whose comments are being stored.
type moderated struct {
	id      string
	msg     jetstream.Msg
	out     []decided
	futures []jetstream.PubAckFuture
	err     error
	start   time.Time
}

// moderate checks one batch of posts and starts storing the accepted
// comments of each room as one message (deduplicated by batch and room,
// so a batch moderated twice is stored once). finish completes it.
func (s *Service) moderate(msg jetstream.Msg) *moderated {
	b := &moderated{msg: msg, start: time.Now()}
	posts, bad := decodePosts(msg.Data())
	if bad > 0 {
		s.log.Warn("live: unreadable posts dropped", "count", bad)
	}
	batchID := msg.Headers().Get(jetstream.MsgIDHeader)
	if batchID == "" {
		if md, err := msg.Metadata(); err == nil {
			batchID = fmt.Sprint(md.Sequence.Stream)
		}
	}
	b.id = batchID
	b.out = s.retries.take(batchID)
	if b.out == nil {
		b.out = s.decide(posts)
	}
	b.futures, b.err = s.store(batchID, b.out)
	return b
}

// finish waits until a batch's comments are stored, then answers the
// posters and acks the batch; on failure the batch is retried.
func (s *Service) finish(ctx context.Context, b *moderated) {
	err := b.err
	for _, f := range b.futures {
		if err != nil {
			break
		}
		select {
		case <-f.Ok():
		case err = <-f.Err():
		case <-ctx.Done():
			return // unacked: redelivered to a worker elsewhere
		}
	}
	if err != nil {
		s.log.Warn("live: comments not stored; the batch is retried", "err", err)
		s.retries.keep(b.id, b.out)
		b.msg.NakWithDelay(time.Second)
		return
	}
	s.answer(b.out)
	b.msg.Ack()
	s.m.batchSeconds.Observe(time.Since(b.start).Seconds())
}

func decodePosts(data []byte) (posts []post, bad int) {
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		var p post
		if err := json.Unmarshal(line, &p); err != nil {
			bad++
			continue
		}
		posts = append(posts, p)
	}
	return posts, bad
}

func (s *Service) decide(posts []post) []decided {
	pol := s.policy.Load()
	out := make([]decided, len(posts))
	for i, p := range posts {
		out[i].p = p
		reason, detail := s.limits.check(p, pol, s.rooms.get(p.Room))
		if reason != "" {
			out[i].rj = &Rejection{ID: p.ID, Room: p.Room, User: p.User, Reason: reason, Detail: detail, Text: p.Text}
			continue
		}
		out[i].c = &Comment{ID: p.ID, Room: p.Room, User: p.User, Name: p.Name, Text: p.Text, Time: p.At}
	}
	return out
}

// store starts writing each room's accepted comments as one engine
// message, on the room's stored subject: viewers get it from the
// stream's republish once it is stored, never from this publish.
func (s *Service) store(batchID string, out []decided) ([]jetstream.PubAckFuture, error) {
	lines := map[string][]byte{}
	earliest := map[string]time.Time{}
	var rooms []string
	for _, d := range out {
		if d.c == nil {
			continue
		}
		if at, ok := earliest[d.c.Room]; !ok || d.c.Time.Before(at) {
			earliest[d.c.Room] = d.c.Time
		}
		raw, _ := json.Marshal(d.c)
		if _, ok := lines[d.c.Room]; !ok {
			rooms = append(rooms, d.c.Room)
		}
		if b := lines[d.c.Room]; len(b) > 0 {
			lines[d.c.Room] = append(append(b, '\n'), raw...)
		} else {
			lines[d.c.Room] = raw
		}
	}
	futures := make([]jetstream.PubAckFuture, 0, len(rooms))
	for _, room := range rooms {
		m := nats.NewMsg(storedSubject(room))
		m.Data = lines[room]
		m.Header.Set(batchHeader, "1")
		m.Header.Set(acceptedHeader, strconv.FormatInt(earliest[room].UnixNano(), 10))
		m.Header.Set(jetstream.MsgIDHeader, batchID+"."+room)
		f, err := s.js.PublishMsgAsync(m, jetstream.WithStallWait(10*time.Second))
		if err != nil {
			return nil, err
		}
		futures = append(futures, f)
	}
	return futures, nil
}

// answer tells posters and counts: rejections on MQTT, outcomes to HTTP
// posters waiting for them.
func (s *Service) answer(out []decided) {
	for _, d := range out {
		if d.rj != nil {
			s.m.rejected.WithLabelValues(d.rj.Reason).Inc()
			s.board.count(d.p.Room, false, d.rj.Reason)
			s.publishRejection(*d.rj)
		} else {
			s.m.accepted.Inc()
			s.board.count(d.p.Room, true, "")
		}
		if isPosterReply(d.p.Reply) {
			raw, _ := json.Marshal(outcome{Comment: d.c, Rejected: d.rj})
			s.nc.Publish(d.p.Reply, raw)
		}
	}
}

// retries keeps the decisions of batches whose comments could not be
// stored, so that a retry in this process stores the same comments: the
// limiter already counted them, and deciding again would reject them as
// duplicates of themselves.
type retries struct {
	mu    sync.Mutex
	byID  map[string][]decided
	added map[string]time.Time
}

func newRetries() *retries {
	return &retries{byID: map[string][]decided{}, added: map[string]time.Time{}}
}

func (r *retries) keep(id string, out []decided) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for old, at := range r.added {
		if now.Sub(at) > dedupeWindow {
			delete(r.byID, old)
			delete(r.added, old)
		}
	}
	r.byID[id], r.added[id] = out, now
}

func (r *retries) take(id string) []decided {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.byID[id]
	delete(r.byID, id)
	delete(r.added, id)
	return out
}
