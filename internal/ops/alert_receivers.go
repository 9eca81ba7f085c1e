package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

// receiver sends notifications to one configured webhook, one at a time
// and in order; a failing attempt is retried with exponential backoff (1s
// doubling to 1m) for the receiver's retry_for. Its queue holds at most
// alerts.max_queued notifications; past that the oldest is dropped and
// counted.
type receiver struct {
	name        string
	cfg         *config.Receiver
	key         []byte
	externalURL string
	client      *http.Client
	m           *alertMetrics
	log         *slog.Logger
	max         int

	mu    sync.Mutex
	queue []AlertState
	wake  chan struct{}
}

func newReceiver(name string, cfg *config.Receiver, externalURL string, max int, m *alertMetrics, log *slog.Logger) (*receiver, error) {
	key, err := config.WebhookKey(cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("alerts.receivers.%s.secret: %w", name, err)
	}
	return &receiver{
		name: name, cfg: cfg, key: key, externalURL: externalURL, m: m, log: log, max: max,
		wake: make(chan struct{}, 1),
		client: &http.Client{
			Timeout: cfg.Timeout.D(),
			// A receiver's answer is a status; following a redirect would let
			// it point stadion's signed request at another host.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// enqueue adds a notification if the receiver wants its kind and severity.
func (r *receiver) enqueue(st AlertState) {
	if !r.cfg.Accepts(st.Kind, st.Severity) {
		return
	}
	r.mu.Lock()
	if len(r.queue) >= r.max {
		r.queue = r.queue[1:]
		r.m.notifications.WithLabelValues(r.name, "dropped").Inc()
	}
	r.queue = append(r.queue, st)
	r.m.queued.WithLabelValues(r.name).Set(float64(len(r.queue)))
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *receiver) head() (AlertState, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) == 0 {
		return AlertState{}, false
	}
	return r.queue[0], true
}

func (r *receiver) pop(st AlertState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The head may have been dropped for a newer one while it was sent.
	if len(r.queue) > 0 && r.queue[0].ID == st.ID && r.queue[0].UpdatedAt.Equal(st.UpdatedAt) {
		r.queue = r.queue[1:]
	}
	r.m.queued.WithLabelValues(r.name).Set(float64(len(r.queue)))
}

// run delivers until ctx ends.
func (r *receiver) run(ctx context.Context) {
	for {
		st, ok := r.head()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-r.wake:
				continue
			}
		}
		r.deliver(ctx, st)
		r.pop(st)
		if ctx.Err() != nil {
			return
		}
	}
}

// deliver retries one notification until it is accepted or retry_for
// has passed since the first attempt.
func (r *receiver) deliver(ctx context.Context, st AlertState) {
	deadline := time.Now().Add(r.cfg.RetryFor.D())
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		err := r.post(ctx, st)
		if err == nil {
			r.m.notifications.WithLabelValues(r.name, "ok").Inc()
			return
		}
		r.m.notifications.WithLabelValues(r.name, "failed").Inc()
		if attempt == 1 || attempt%10 == 0 {
			r.log.Warn("alert receiver failed; retrying", "receiver", r.name, "alert", st.ID, "status", st.Status, "attempt", attempt, "err", err)
		}
		if time.Now().Add(backoff).After(deadline) {
			r.m.notifications.WithLabelValues(r.name, "expired").Inc()
			r.log.Error("alert receiver gave up on a notification", "receiver", r.name, "alert", st.ID, "status", st.Status, "retried_for", r.cfg.RetryFor.D())
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, time.Minute)
	}
}

// post sends one signed attempt. webhook-id is the same on every retry
// of one transition, so a receiver can drop repeats.
func (r *receiver) post(ctx context.Context, st AlertState) error {
	body, err := json.Marshal(newPayload(r.name, r.externalURL, st))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	id := "alert_" + Fingerprint(st.ID) + "_" + st.Status + "_" + strconv.FormatInt(st.UpdatedAt.UnixNano(), 36)
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "stadion-alerts")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", api.WebhookSignature(r.key, id, ts, body))
	resp, err := r.client.Do(req)
	if err != nil {
		// Without the URL: a receiver's path often holds its own secret
		// (and logs feed the anomaly miner).
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("answered %d", resp.StatusCode) // not the remote's reason phrase
	}
	return nil
}
