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
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

// NotifyStream holds the notifications waiting for receivers, one subject
// per receiver (ops.notify.<receiver>), work-queue retention: a
// notification stays until a replica's worker delivered it or gave up, so
// it survives the replica that queued it. At most alerts.max_queued wait
// per receiver; past that the oldest is discarded.
const (
	NotifyStream  = "OPS_NOTIFY"
	notifySubject = "ops.notify."
)

// receiver sends one configured webhook's notifications. Every replica
// runs a worker on the receiver's durable consumer, so each notification
// is sent by one of them, one at a time and in order. A failed attempt
// is retried (the message is nacked with exponential backoff from 1s to
// 1m) until retry_for has passed since it was queued.
type receiver struct {
	name        string
	cfg         *config.Receiver
	key         []byte
	externalURL string
	client      *http.Client
	js          jetstream.JetStream
	m           *alertMetrics
	log         *slog.Logger
}

func newReceiver(name string, cfg *config.Receiver, externalURL string, js jetstream.JetStream, m *alertMetrics, log *slog.Logger) (*receiver, error) {
	key, err := config.WebhookKey(cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("alerts.receivers.%s.secret: %w", name, err)
	}
	return &receiver{
		name: name, cfg: cfg, key: key, externalURL: externalURL, js: js, m: m, log: log,
		client: &http.Client{
			Timeout: cfg.Timeout.D(),
			// A receiver's answer is a status; following a redirect would let
			// it point stadion's signed request at another host.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// ensureNotifyStream creates or updates the notification stream.
func ensureNotifyStream(ctx context.Context, js jetstream.JetStream, maxQueued, replicas int) error {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: NotifyStream, Description: "stadion alert notifications waiting for their receivers",
		Subjects: []string{notifySubject + ">"}, Retention: jetstream.WorkQueuePolicy,
		MaxMsgsPerSubject: int64(maxQueued), Discard: jetstream.DiscardOld, MaxAge: 7 * 24 * time.Hour,
		MaxMsgSize: 64 << 10, Duplicates: 10 * time.Minute, Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
	})
	return err
}

// enqueue stores a notification for the receiver if it wants its kind
// and severity. The message id makes a repeat of one transition a no-op.
func (r *receiver) enqueue(ctx context.Context, st AlertState) {
	if !r.cfg.Accepts(st.Kind, st.Severity) {
		return
	}
	raw, _ := json.Marshal(st)
	msg := nats.NewMsg(notifySubject + r.name)
	msg.Data = raw
	msg.Header.Set(jetstream.MsgIDHeader, r.name+":"+transitionID(st))
	if _, err := r.js.PublishMsg(ctx, msg); err != nil {
		r.m.notifications.WithLabelValues(r.name, "dropped").Inc()
		r.log.Error("alerts: cannot queue a notification", "receiver", r.name, "alert", st.ID, "err", err)
	}
}

// transitionID names one transition of one alert: the same on every
// retry, so receivers can drop repeats (webhook-id).
func transitionID(st AlertState) string {
	return "alert_" + Fingerprint(st.ID) + "_" + st.Status + "_" + strconv.FormatInt(st.UpdatedAt.UnixNano(), 36)
}

// run delivers until ctx ends.
func (r *receiver) run(ctx context.Context) {
	var cons jetstream.Consumer
	for cons == nil {
		c, err := r.js.CreateOrUpdateConsumer(ctx, NotifyStream, jetstream.ConsumerConfig{
			Durable: "notify-" + r.name, FilterSubject: notifySubject + r.name,
			AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1, AckWait: r.cfg.Timeout.D() + 30*time.Second,
		})
		if err == nil {
			cons = c
			break
		}
		r.log.Warn("alerts: cannot open the receiver's queue; retrying", "receiver", r.name, "err", err)
		if !sleepCtx(ctx, 5*time.Second) {
			return
		}
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			if !sleepCtx(ctx, time.Second) {
				return
			}
			continue
		}
		for msg := range batch.Messages() {
			r.handle(ctx, msg)
		}
		if info := cons.CachedInfo(); info != nil {
			r.m.queued.WithLabelValues(r.name).Set(float64(info.NumPending))
		}
	}
}

// handle makes one attempt at one notification: ack on success, term
// once retry_for has passed since it was queued, else nack with backoff.
func (r *receiver) handle(ctx context.Context, msg jetstream.Msg) {
	var st AlertState
	if err := json.Unmarshal(msg.Data(), &st); err != nil {
		_ = msg.Term()
		return
	}
	meta, _ := msg.Metadata()
	err := r.post(ctx, st)
	if err == nil {
		r.m.notifications.WithLabelValues(r.name, "ok").Inc()
		_ = msg.Ack()
		return
	}
	r.m.notifications.WithLabelValues(r.name, "failed").Inc()
	attempt, queued := uint64(1), time.Now()
	if meta != nil {
		attempt, queued = meta.NumDelivered, meta.Timestamp
	}
	backoff := min(time.Second<<min(attempt-1, 6), time.Minute)
	if time.Since(queued)+backoff > r.cfg.RetryFor.D() {
		r.m.notifications.WithLabelValues(r.name, "expired").Inc()
		r.log.Error("alert receiver gave up on a notification", "receiver", r.name, "alert", st.ID, "status", st.Status, "retried_for", r.cfg.RetryFor.D(), "err", err)
		_ = msg.Term()
		return
	}
	if attempt == 1 || attempt%10 == 0 {
		r.log.Warn("alert receiver failed; retrying", "receiver", r.name, "alert", st.ID, "status", st.Status, "attempt", attempt, "err", err)
	}
	_ = msg.NakWithDelay(backoff)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// post sends one signed attempt.
func (r *receiver) post(ctx context.Context, st AlertState) error {
	body, err := json.Marshal(newPayload(r.name, r.externalURL, st))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	id := transitionID(st)
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
