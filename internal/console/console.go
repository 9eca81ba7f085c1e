// Package console is the operator's web page served by `stadion up` at /:
// the embedded page and its assets (assets.go), an hour of this process's
// rates and lags sampled from its Prometheus registry (series.go), and two
// small authenticated endpoints the page reads them from
// (GET /v1/console/series and the streamed GET /v1/console/feed). Every
// other figure the page shows it reads from the /v1 API with the key the
// operator signed in with, so it shows exactly what that key may see.
//
// It imports only config and api and is imported only by internal/server.
package console

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

// Defaults of Options.
const (
	DefaultInterval  = 5 * time.Second
	DefaultHistory   = time.Hour
	DefaultMaxSeries = 1024
	// feedBuffer is how many samples a feed may fall behind before it
	// misses some (the page then reloads the series).
	feedBuffer = 4
)

// Options configure the console.
type Options struct {
	Config    *config.Config
	Gatherer  prometheus.Gatherer   // the process's registry, sampled every Interval
	Reg       prometheus.Registerer // the console's own metrics
	Streams   *api.Streams          // the exchange's: a feed counts against exchange.streams_per_client
	Logger    *slog.Logger
	Interval  time.Duration // default DefaultInterval
	History   time.Duration // default DefaultHistory
	MaxSeries int           // default DefaultMaxSeries
}

// Console serves the page and its series. Start begins sampling; Stop
// ends it and every open feed.
type Console struct {
	o     Options
	store *store
	m     *metrics

	mu       sync.Mutex
	feeds    map[chan tick]struct{}
	draining bool // set by Drain: no new feed

	stop chan struct{}
	done chan struct{}
}

// tick is one sample as sent to the feeds.
type tick struct {
	at     time.Time
	values map[string]float64
}

// New builds the console; it samples nothing until Start.
func New(o Options) *Console {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.History <= 0 {
		o.History = DefaultHistory
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = DefaultMaxSeries
	}
	m := newMetrics(o.Reg)
	size := max(int(o.History/o.Interval), 2)
	c := &Console{o: o, m: m, store: newStore(size, o.MaxSeries, m.seriesDropped), feeds: map[chan tick]struct{}{}}
	m.series = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "stadion_console_series", Help: "Series the console keeps an hour of (capped at 1024).",
	}, func() float64 { return float64(c.store.count()) })
	o.Reg.MustRegister(m.series)
	return c
}

// Start samples the registry every interval until Stop.
func (c *Console) Start(ctx context.Context) error {
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go c.run()
	return nil
}

// Stop ends the sampler and, through it, every feed.
func (c *Console) Stop(ctx context.Context) error {
	if c.stop == nil {
		return nil
	}
	close(c.stop)
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

func (c *Console) run() {
	defer close(c.done)
	defer c.closeFeeds()
	t := time.NewTicker(c.o.Interval)
	defer t.Stop()
	last := time.Now()
	c.sample(last, 0)
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			c.sample(now, now.Sub(last))
			last = now
		}
	}
}

// sample reads the registry once and hands the values to the feeds.
func (c *Console) sample(now time.Time, dt time.Duration) {
	mfs, err := c.o.Gatherer.Gather()
	if err != nil && len(mfs) == 0 {
		c.o.Logger.Warn("console: reading the metrics failed", "err", err)
		return
	}
	vals := c.store.add(now, dt, readings(mfs))
	c.broadcast(tick{at: now, values: vals})
}

func (c *Console) broadcast(t tick) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.feeds {
		select {
		case ch <- t:
		default:
			c.m.feedDropped.Inc()
		}
	}
}

// subscribe adds a feed; it returns nil once the server drains.
func (c *Console) subscribe() chan tick {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining {
		return nil
	}
	ch := make(chan tick, feedBuffer)
	c.feeds[ch] = struct{}{}
	return ch
}

// Drain ends every open feed and refuses new ones, so that the HTTP
// server's graceful shutdown is not held up by pages that never leave;
// they reconnect (to another replica) on their own.
func (c *Console) Drain() {
	c.mu.Lock()
	c.draining = true
	c.mu.Unlock()
	c.closeFeeds()
}

func (c *Console) unsubscribe(ch chan tick) {
	c.mu.Lock()
	if _, ok := c.feeds[ch]; ok {
		delete(c.feeds, ch)
		close(ch)
	}
	c.mu.Unlock()
}

func (c *Console) closeFeeds() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.feeds {
		delete(c.feeds, ch)
		close(ch)
	}
}

// Routes serves the page at / and /console/, and the console's API.
func (c *Console) Routes(mux *api.Mux, auth func(http.Handler) http.Handler) {
	mux.Handle("GET /{$}", http.HandlerFunc(serveIndex))
	mux.Handle("GET /console/{file}", http.HandlerFunc(serveAsset))
	mux.Handle("GET /v1/console", auth(api.HandlerFunc(c.handleWhoami)))
	mux.Handle("GET /v1/console/series", auth(api.HandlerFunc(c.handleSeries)))
	mux.Handle("GET /v1/console/feed", auth(api.HandlerFunc(c.handleFeed)))
}

// visible reports whether the caller may see a series: the admin every
// one; another client the rates of the topics it publishes or reads.
func (c *Console) visible(p api.Principal, s *series) bool {
	if p.Admin() {
		return true
	}
	if s.scope != "topic" {
		return false
	}
	t, ok := c.o.Config.Topics[s.name]
	return ok && (t.CanPublish(p.Client) || t.CanSubscribe(p.Client))
}
