package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/exchange"
)

// AdmissionsTopic is the exchange topic admitted scans are published to,
// when the configuration declares it.
const AdmissionsTopic = "admissions"

// TicketingRole is the client role that may issue and revoke tickets.
const TicketingRole = "ticketing"

// Cloud is the cloud side of the gate capability: tickets, venues, the
// venue view and the leafnode credentials of the edges.
type Cloud struct {
	cfg *config.Config
	eng *engine.Engine
	js  jetstream.JetStream
	nc  *nats.Conn
	x   exchange.Publisher
	log *slog.Logger
	m   *cloudMetrics

	signer  *signer
	tickets jetstream.KeyValue
	creds   *credStore
	views   map[string]*venueView

	cancel context.CancelFunc
	wg     sync.WaitGroup
	subs   []*nats.Subscription
}

// NewCloud builds the cloud side for the configured venues.
func NewCloud(cfg *config.Config, eng *engine.Engine, x exchange.Publisher, reg prometheus.Registerer, log *slog.Logger) (*Cloud, error) {
	if eng.Domain() != CloudDomain {
		return nil, fmt.Errorf("gate: the cloud engine must run in JetStream domain %q (got %q)", CloudDomain, eng.Domain())
	}
	return &Cloud{
		cfg: cfg, eng: eng, js: eng.JS, nc: eng.Conn, x: x,
		log: log.With("service", "gate"), m: newCloudMetrics(reg),
		views: map[string]*venueView{},
	}, nil
}

// Start creates the buckets and streams, publishes each venue's
// configuration and keys, and follows the edges' scans.
func (c *Cloud) Start(ctx context.Context) error {
	var err error
	if c.signer, err = openSigner(ctx, c.js); err != nil {
		return err
	}
	if c.tickets, err = c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: "gate-tickets", Description: "issued tickets", History: 1,
	}); err != nil {
		return fmt.Errorf("gate: tickets bucket: %w", err)
	}
	if c.creds, err = openCredStore(ctx, c.js, c.cfg); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	for _, name := range c.cfg.VenueNames() {
		v, err := c.startVenue(ctx, runCtx, name)
		if err != nil {
			return err
		}
		c.views[name] = v
		if err := c.subscribe(syncSubject(name), c.onSync(name), syncPending); err != nil {
			return err
		}
		if err := c.subscribe(fwdSubject(name), c.onForward(name), syncPending); err != nil {
			return err
		}
	}
	if err := c.subscribe("gate.*.hb", c.onHeartbeat, hbPending); err != nil {
		return err
	}
	c.creds.onChange(c.closeLinks)
	subs := slices.Clone(c.subs)
	c.m.linkSubs.Store(&subs)
	c.eng.SetLeafAuthorizer(c.creds)
	c.log.Info("gate started", "venues", len(c.views))
	return nil
}

// Edges reach these subscriptions; what they send beyond the bound waits
// nowhere: the engine client drops it (and counts it as a slow consumer
// of that subscription only), so an edge that floods cannot grow the
// cloud's memory.
const (
	syncPending = 64   // catch-up requests, or forwarded batches, of one venue
	hbPending   = 4096 // heartbeats of all venues
)

func (c *Cloud) subscribe(subject string, h nats.MsgHandler, pending int) error {
	sub, err := c.nc.Subscribe(subject, h)
	if err != nil {
		return err
	}
	c.subs = append(c.subs, sub)
	return sub.SetPendingLimits(pending, pending*4096)
}

// closeLinks closes the leafnode links of venue on this replica, after its
// credentials were revoked or replaced: the secret they were admitted
// with is no longer the venue's.
func (c *Cloud) closeLinks(venue string) {
	n := c.eng.CloseLeafs(venueUser(venue))
	if n > 0 {
		c.m.kicked.WithLabelValues(venue).Add(float64(n))
		c.log.Info("venue edge links closed: credentials revoked or replaced", "venue", venue, "links", n)
	}
}

// Stop ends the view consumers.
func (c *Cloud) Stop(ctx context.Context) error {
	for _, s := range c.subs {
		_ = s.Unsubscribe()
	}
	if c.cancel != nil {
		c.cancel()
	}
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("gate: stop: view consumers did not end in time")
	}
}

// Routes mounts the cloud API.
func (c *Cloud) Routes(mux *api.Mux, auth func(http.Handler) http.Handler) {
	h := func(f func(http.ResponseWriter, *http.Request) error) http.Handler {
		return auth(api.HandlerFunc(f))
	}
	mux.Handle("POST /v1/tickets", h(c.issueTickets))
	mux.Handle("GET /v1/tickets/{id}", h(c.showTicket))
	mux.Handle("POST /v1/tickets/{id}/revoke", h(c.revokeTicket))
	mux.Handle("GET /v1/tickets/keys", h(c.listKeys))
	mux.Handle("POST /v1/tickets/keys/rotate", h(c.rotateKey))
	mux.Handle("POST /v1/tickets/keys/{kid}/retire", h(c.retireKey))
	mux.Handle("GET /v1/venues", h(c.listVenues))
	mux.Handle("GET /v1/venues/{venue}", h(c.showVenue))
	mux.Handle("POST /v1/venues/{venue}/credentials", h(c.issueCredentials))
	mux.Handle("DELETE /v1/venues/{venue}/credentials", h(c.revokeCredentials))
	mux.Handle("GET /v1/venues/{venue}/status", h(c.edgeStatus))
	mux.Handle("GET /v1/venues/{venue}/logs", h(c.edgeLogs))
	mux.Handle("GET /v1/venues/{venue}/anomalies", h(c.edgeAnomalies))
}
