package server

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/ops"
)

var _ capability = (*ops.SLOService)(nil)

// newOpsSLO builds the SLO, alert and anomaly side of ops for `stadion
// up`: always on (with no slos: it evaluates nothing, but alerts and the
// log-template miner still run). It mines the logs of the logger `up`
// built (a LogTee) and the engine's advisories.
func newOpsSLO(ctx context.Context, env serverEnv) (capability, error) {
	gather, ok := env.reg.(prometheus.Gatherer)
	if !ok {
		return nil, errors.New("ops: the metrics registry cannot be read back")
	}
	var feed *ops.LogFeed
	if t, ok := env.log.Handler().(*ops.LogTee); ok {
		feed = t.Feed()
	}
	o := ops.SLOOptions{
		Config: env.cfg, JS: env.eng.JS, Gatherer: gather, Registry: env.reg, Feed: feed, Logger: env.log,
	}
	if feed != nil {
		o.Conn = env.eng.Conn
	}
	if env.cfg.Alerts.Topic != "" {
		o.Publish = func(ctx context.Context, topic string, data []byte, dedupeID string) error {
			_, err := env.x.Publish(ctx, topic, "stadion-ops", data, dedupeID)
			return err
		}
	}
	return ops.NewSLOService(o)
}

// opsService is the health service and the inspection schedule of `up`.
type opsService struct {
	health *ops.Health
	insp   *ops.Inspector
}

// newOps builds health scores, whose alerts go through the SLO
// service's alerter and whose inspection lists its budgets, from every service that reports checks
// (the exchange, the sinks, the capabilities that implement ops.Source),
// the engine and the leafnode certificate.
func newOps(env serverEnv, svcs []service) *opsService {
	var alerter ops.Alerter
	var budgets ops.BudgetSource
	for _, s := range svcs {
		if slo, ok := s.(*ops.SLOService); ok {
			alerter, budgets = slo.Alerter(), slo.SLOs()
		}
	}
	sources := []ops.Source{&ops.EngineChecks{
		JS: env.eng.JS, MaxDisk: int64(env.cfg.Engine.MaxDisk), MaxMemory: int64(env.cfg.Engine.MaxMemory),
		SlowConsumers: env.eng.SlowConsumers, ClusterPeers: env.eng.ClusterPeers,
	}}
	for _, s := range svcs {
		if src, ok := s.(ops.Source); ok {
			sources = append(sources, src)
		}
	}
	if env.opts.LeafCert != "" {
		sources = append(sources, certChecks("leafnode-tls", env.opts.LeafCert))
	}
	h := ops.NewHealth(ops.HealthOptions{Config: env.cfg.Health, JS: env.eng.JS, Sources: sources, Alerter: alerter, Reg: env.reg, Logger: env.log})
	insp := ops.NewInspector(ops.InspectorOptions{Config: env.cfg, JS: env.eng.JS, Health: h, Budgets: budgets, Logger: env.log})
	return &opsService{health: h, insp: insp}
}

func (o *opsService) Start(ctx context.Context) error {
	if err := o.health.Start(ctx); err != nil {
		return err
	}
	if err := o.insp.Start(ctx); err != nil {
		_ = o.health.Stop(ctx)
		return err
	}
	return nil
}

func (o *opsService) Stop(ctx context.Context) error {
	err := o.insp.Stop(ctx)
	if herr := o.health.Stop(ctx); herr != nil {
		return herr
	}
	return err
}

func (o *opsService) routes(mux *api.Mux, auth func(http.Handler) http.Handler, env serverEnv) {
	o.health.Routes(mux, auth, env.cfg)
	o.insp.Routes(mux, auth)
}

// certChecks reports days until a PEM certificate file expires.
func certChecks(name, path string) ops.Source {
	comp := "keys"
	return ops.SourceFunc(func(context.Context) []ops.Check {
		raw, err := os.ReadFile(path)
		if err != nil {
			return []ops.Check{ops.State(ops.SiteCloud, comp, name+"_readable", true, fmt.Sprintf("%s: %v", path, err))}
		}
		b, _ := pem.Decode(raw)
		if b == nil {
			return []ops.Check{ops.State(ops.SiteCloud, comp, name+"_readable", true, path+": no PEM certificate")}
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return []ops.Check{ops.State(ops.SiteCloud, comp, name+"_readable", true, fmt.Sprintf("%s: %v", path, err))}
		}
		days := time.Until(cert.NotAfter).Hours() / 24
		return []ops.Check{{Site: ops.SiteCloud, Component: comp, Name: name + "_days_left", Unit: "days", Value: days, Warn: 30, Crit: 7, LowerIsWorse: true,
			Detail: fmt.Sprintf("%s expires %s", path, cert.NotAfter.UTC().Format(time.DateOnly))}}
	})
}
