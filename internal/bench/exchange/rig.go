package exchange

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/exchange"
)

// exchangeRig drives a server under test: HTTP as the results system (client
// odf) through stadion's API, and raw JetStream on the engine's client port
// with the admin key, writing the same envelopes into the same stream.
type exchangeRig struct {
	fx     *exchangeFixture
	hc     *http.Client
	url    string // the topic's publish URL
	health string // GET /healthz, the HTTP floor (g)
	auth   string // Authorization header of client odf
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	next   atomic.Uint64 // which fixture event goes next
}

// newExchangeRig creates a key for odf and connects; conns is the most
// concurrent requests the rig will make.
func newExchangeRig(ctx context.Context, srv *rig.Child, fx *exchangeFixture, conns int) (*exchangeRig, error) {
	ep := srv.Endpoints()
	admin := &client.Client{Base: ep.HTTP, Token: srv.AdminKey, HTTP: http.DefaultClient}
	var key struct {
		Key string `json:"key"`
	}
	if err := admin.Do(ctx, "POST", "/v1/clients/odf/keys", "", nil, nil, &key); err != nil {
		return nil, fmt.Errorf("creating a key for odf: %w", err)
	}
	nc, err := nats.Connect(ep.NATS, nats.Token(srv.AdminKey), nats.Name("stadion bench exchange"))
	if err != nil {
		return nil, fmt.Errorf("connecting to the engine at %s: %w", ep.NATS, err)
	}
	r := &exchangeRig{
		fx: fx, hc: rig.HTTPClient(conns), nc: nc,
		url:    ep.HTTP + "/v1/topics/" + exchangeTopic + "/events",
		health: ep.HTTP + "/healthz",
		auth:   "Bearer " + key.Key,
	}
	if err := r.openStream(ctx, conns); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *exchangeRig) openStream(ctx context.Context, conns int) error {
	var err error
	r.js, err = jetstream.New(r.nc, jetstream.WithPublishAsyncMaxPending(conns*r.fx.batch))
	if err != nil {
		return err
	}
	r.stream, err = r.js.Stream(ctx, exchange.StreamName(exchangeTopic))
	if err != nil {
		return fmt.Errorf("stream of topic %s: %w", exchangeTopic, err)
	}
	return nil
}

func (r *exchangeRig) close() {
	r.nc.Close()
	r.hc.CloseIdleConnections()
}

// purge empties the topic's stream, so that every phase starts alike.
func (r *exchangeRig) purge(ctx context.Context) error {
	if err := r.stream.Purge(ctx); err != nil {
		return fmt.Errorf("purging the stream of %s: %w", exchangeTopic, err)
	}
	return nil
}

func (r *exchangeRig) pick(n int) int { return int(r.next.Add(1) % uint64(n)) }

// rawPublish publishes one envelope and waits for its ack.
func (r *exchangeRig) rawPublish(ctx context.Context, _ int) (int, error) {
	ev := r.fx.raw[r.pick(len(r.fx.raw))]
	_, err := r.js.Publish(ctx, ev.subject, ev.envelope)
	return 1, err
}

// rawAsync publishes a batch of envelopes without waiting, then waits for
// every ack: what stadion does with the events of one batch request.
func (r *exchangeRig) rawAsync(ctx context.Context, _ int) (int, error) {
	futures := make([]jetstream.PubAckFuture, r.fx.batch)
	for i := range futures {
		ev := r.fx.raw[r.pick(len(r.fx.raw))]
		f, err := r.js.PublishAsync(ev.subject, ev.envelope)
		if err != nil {
			return 0, err
		}
		futures[i] = f
	}
	for _, f := range futures {
		if _, err := engine.AwaitAck(ctx, f); err != nil {
			return 0, err
		}
	}
	return len(futures), nil
}

// httpSingle posts one event.
func (r *exchangeRig) httpSingle(ctx context.Context, _ int) (int, error) {
	return 1, r.post(ctx, r.fx.data[r.pick(len(r.fx.data))])
}

// httpBatch posts a batch of events.
func (r *exchangeRig) httpBatch(ctx context.Context, _ int) (int, error) {
	return r.fx.batch, r.post(ctx, r.fx.batches[r.pick(len(r.fx.batches))])
}

// httpFloor asks GET /healthz: the same HTTP client, connections and
// middleware as (b), with no authentication, JSON or engine work.
func (r *exchangeRig) httpFloor(ctx context.Context, _ int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.health, nil)
	if err != nil {
		return 0, err
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /healthz: %s", resp.Status)
	}
	return 1, nil
}

// post publishes body; anything but 202 Accepted is an error.
func (r *exchangeRig) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", r.auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}
