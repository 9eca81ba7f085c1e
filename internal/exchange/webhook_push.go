package exchange

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/loop"
)

// pushGroup is the priority group of ordered push subscriptions' consumers:
// the engine pins it to one stadion process at a time, so that one process
// sees all of a key's events and can deliver them in order.
const pushGroup = "push"

// pusher delivers one push subscription's events to its webhook from this
// process. Up to this process's share of MaxInFlight calls run at once
// (inFlightShare: all of it when ordered, else MaxInFlight divided by the
// live processes). Without ordering, a failed
// event is nacked with the schedule's delay and may come back to any
// replica; with ordered_by_key it is retried here, kept in progress, and
// the key's later events wait behind it.
type pusher struct {
	x      *Exchange
	s      Subscription
	key    []byte
	client *http.Client

	mu       sync.Mutex
	inFlight int
	lanes    map[string][]fetched // ordered_by_key: events waiting per key
	held     map[jetstream.Msg]struct{}
	freed    chan struct{}
	wg       sync.WaitGroup
}

func newPusher(x *Exchange, s Subscription) (*pusher, error) {
	key, err := pushKey(s.Push.Secret)
	if err != nil {
		return nil, err
	}
	return &pusher{
		x: x, s: s, key: key,
		client: &http.Client{
			// A redirect could lead anywhere, past the allow-list.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		lanes: map[string][]fetched{}, held: map[jetstream.Msg]struct{}{},
		freed: make(chan struct{}, 1),
	}, nil
}

// run fetches and delivers until ctx ends, then waits for its calls.
func (p *pusher) run(ctx context.Context) {
	defer p.wg.Wait()
	p.wg.Go(func() { p.keepHeld(ctx) })
	var opts []jetstream.FetchOpt
	if p.s.Push.OrderedByKey {
		opts = append(opts, jetstream.FetchPriorityGroup(pushGroup))
	}
	cons := map[string]jetstream.Consumer{}
	for ctx.Err() == nil {
		free := p.x.inFlightShare(p.s.Push) - p.busy()
		if free <= 0 {
			select {
			case <-p.freed:
			case <-ctx.Done():
			}
			continue
		}
		if err := p.fetch(ctx, cons, free, opts); err != nil && ctx.Err() == nil {
			p.x.log.Debug("push fetch", "subscription", p.s.Name, "error", err)
			loop.Sleep(ctx, time.Second)
		}
	}
}

// fetch takes redriven events first, then the topic's, handing each to
// dispatch as it arrives. It keeps the consumers (and so the engine's pin
// of ordered subscriptions) between calls.
func (p *pusher) fetch(ctx context.Context, cons map[string]jetstream.Consumer, max int, opts []jetstream.FetchOpt) error {
	n := 0
	for _, stream := range []string{RedriveStream(p.s.Name), StreamName(p.s.Topic)} {
		c, ok := cons[stream]
		if !ok {
			var err error
			if c, err = p.x.js.Consumer(ctx, stream, p.x.consumerName(p.s.Name)); err != nil {
				return err
			}
			cons[stream] = c
		}
		wait := 100 * time.Millisecond
		if stream == StreamName(p.s.Topic) && n == 0 {
			wait = 5 * time.Second
		}
		err := p.x.fetchEach(ctx, p.s, c, max-n, wait, func(f fetched) { n++; p.dispatch(ctx, f) }, opts...)
		if err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return err
		}
		if n == max {
			return nil
		}
	}
	return nil
}

func (p *pusher) busy() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inFlight
}

func (p *pusher) done(m jetstream.Msg) {
	p.mu.Lock()
	p.inFlight--
	delete(p.held, m)
	p.mu.Unlock()
	select {
	case p.freed <- struct{}{}:
	default:
	}
}

func (p *pusher) dispatch(ctx context.Context, f fetched) {
	p.mu.Lock()
	p.inFlight++
	if !p.s.Push.OrderedByKey {
		p.mu.Unlock()
		p.wg.Go(func() { p.deliverOnce(ctx, f) })
		return
	}
	key := f.msg.Subject()
	p.held[f.msg] = struct{}{}
	p.lanes[key] = append(p.lanes[key], f)
	first := len(p.lanes[key]) == 1
	p.mu.Unlock()
	if first {
		p.wg.Go(func() { p.runLane(ctx, key) })
	}
}

// deliverOnce makes one attempt and settles it: ack, or nack with the
// schedule's delay.
func (p *pusher) deliverOnce(ctx context.Context, f fetched) {
	defer p.done(f.msg)
	err := p.post(ctx, f)
	p.settle(ctx, f, err, f.md.NumDelivered)
}

func (p *pusher) settle(ctx context.Context, f fetched, err error, attempt uint64) {
	if err == nil {
		p.x.sm.pushes.WithLabelValues(p.s.Name, "ok").Inc()
		p.x.sm.push.record(p.s.Name, nil)
		_ = f.msg.DoubleAck(ctx)
		return
	}
	if ctx.Err() != nil { // shutting down: another replica takes it at once
		_ = f.msg.Nak()
		return
	}
	p.x.sm.pushes.WithLabelValues(p.s.Name, "failed").Inc()
	p.x.sm.push.record(p.s.Name, err)
	if rerr := p.x.recordFailure(ctx, failureKey(p.s.Name, f.md.Stream, f.md.Sequence.Stream), err.Error()); rerr != nil {
		p.x.log.Warn("push failure not recorded", "subscription", p.s.Name, "error", rerr)
	}
	_ = f.msg.NakWithDelay(p.s.Retry.nakDelay(attempt))
}

// runLane delivers a key's events one at a time, in order. A failing
// event is retried here on the schedule, held in progress, until it is
// acked or dead-lettered; only then does the key's next event go.
func (p *pusher) runLane(ctx context.Context, key string) {
	for {
		p.mu.Lock()
		lane := p.lanes[key]
		if len(lane) == 0 || ctx.Err() != nil {
			delete(p.lanes, key)
			p.mu.Unlock()
			for _, f := range lane { // shutting down: another replica takes them
				_ = f.msg.Nak()
			}
			return
		}
		f := lane[0]
		p.mu.Unlock()
		p.deliverOrdered(ctx, f)
		p.mu.Lock()
		p.lanes[key] = p.lanes[key][1:]
		p.mu.Unlock()
		p.done(f.msg)
	}
}

func (p *pusher) deliverOrdered(ctx context.Context, f fetched) {
	for attempt := f.md.NumDelivered; ; attempt++ {
		if ctx.Err() != nil {
			_ = f.msg.Nak()
			return
		}
		if attempt > uint64(p.s.Retry.MaxAttempts) {
			if err := p.x.deadLetter(ctx, p.s, f.msg, f.md, attempt-1); err != nil {
				p.x.log.Error("dead letter not stored", "subscription", p.s.Name, "error", err)
				_ = f.msg.NakWithDelay(5 * time.Second)
			}
			return
		}
		err := p.post(ctx, f)
		if err == nil {
			p.settle(ctx, f, nil, attempt)
			return
		}
		p.x.sm.pushes.WithLabelValues(p.s.Name, "failed").Inc()
		if rerr := p.x.recordFailure(ctx, failureKey(p.s.Name, f.md.Stream, f.md.Sequence.Stream), err.Error()); rerr != nil {
			p.x.log.Warn("push failure not recorded", "subscription", p.s.Name, "error", rerr)
		}
		if attempt < uint64(p.s.Retry.MaxAttempts) {
			p.x.sm.retries.WithLabelValues(p.s.Name).Inc()
			loop.Sleep(ctx, p.s.Retry.delay(attempt))
		}
	}
}

// keepHeld tells the engine that events held for ordering are in
// progress, so it does not hand them to another process meanwhile.
func (p *pusher) keepHeld(ctx context.Context) {
	ackWait, _ := time.ParseDuration(p.s.AckWait)
	t := time.NewTicker(max(ackWait/3, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		for m := range p.held {
			_ = m.InProgress()
		}
		p.mu.Unlock()
	}
}

// post makes one webhook call; any answer but 2xx is an error.
func (p *pusher) post(ctx context.Context, f fetched) error {
	req, err := webhookRequest(p.s.Push.URL, p.key, f.msg.Data(), topicSeq(f.msg.Headers(), f.md.Sequence.Stream), time.Now())
	if err != nil {
		return fmt.Errorf("stored event unreadable: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.s.Push.timeout())
	defer cancel()
	resp, err := p.client.Do(req.WithContext(ctx))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("webhook did not answer within %s", p.s.Push.timeout())
		}
		return quietCallErr(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The status code only: the remote's body and reason phrase are
		// its words, and this error is shown to the subscription's owner.
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}

// quietCallErr says in stadion's words how a webhook call failed before an
// answer. The transport's own message may quote what the remote sent (a
// non-HTTP banner, say), and this text is shown to the subscription's
// owner.
func quietCallErr(err error) error {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	switch {
	case errors.As(err, &dnsErr):
		return errors.New("webhook: the host name does not resolve")
	case errors.As(err, &certErr):
		return errors.New("webhook: the TLS certificate is not valid for the host")
	case errors.As(err, &recErr):
		return errors.New("webhook: the TLS handshake failed")
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return errors.New("webhook: could not connect")
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return errors.New("webhook: could not connect")
	}
	return errors.New("webhook: the call failed before a valid HTTP answer")
}
