package live

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// replies routes moderation outcomes back to HTTP posters waiting in this
// process.
type replies struct {
	nc     *nats.Conn
	prefix string

	mu      sync.Mutex
	waiters map[string]chan outcome
	sub     *nats.Subscription
}

// replyRoot starts every reply subject an HTTP poster waits on.
const replyRoot = "_LIVE_REPLY."

func newReplies(nc *nats.Conn, process string) *replies {
	return &replies{nc: nc, prefix: replyRoot + process + ".", waiters: map[string]chan outcome{}}
}

// isPosterReply reports whether a post's reply subject is one stadion made
// for a waiting HTTP poster. Posts are read back from the posts stream, so
// the moderator answers only there: never on a subject someone who got a
// post into the stream chose.
func isPosterReply(subject string) bool {
	rest, ok := strings.CutPrefix(subject, replyRoot)
	process, key, two := strings.Cut(rest, ".")
	return ok && two && process != "" && key != "" && !strings.ContainsAny(rest, "*> \t\r\n") && !strings.Contains(key, ".")
}

func (r *replies) start() error {
	sub, err := r.nc.Subscribe(r.prefix+"*", func(m *nats.Msg) {
		key := strings.TrimPrefix(m.Subject, r.prefix)
		var o outcome
		if json.Unmarshal(m.Data, &o) != nil {
			return
		}
		r.mu.Lock()
		ch := r.waiters[key]
		delete(r.waiters, key)
		r.mu.Unlock()
		if ch != nil {
			ch <- o
		}
	})
	r.sub = sub
	return err
}

// expect registers a waiter; it returns the reply subject and the channel
// the outcome arrives on.
func (r *replies) expect() (string, string, <-chan outcome) {
	key := nuid.Next()
	ch := make(chan outcome, 1)
	r.mu.Lock()
	r.waiters[key] = ch
	r.mu.Unlock()
	return key, r.prefix + key, ch
}

// wait returns the outcome, or ctx's error (the waiter is then dropped).
func (r *replies) wait(ctx context.Context, key string, ch <-chan outcome) (outcome, error) {
	select {
	case o := <-ch:
		return o, nil
	case <-ctx.Done():
		r.mu.Lock()
		delete(r.waiters, key)
		r.mu.Unlock()
		return outcome{}, ctx.Err()
	}
}

func (r *replies) stop() {
	if r.sub != nil {
		r.sub.Unsubscribe()
	}
}
