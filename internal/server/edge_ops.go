package server

import (
	"context"
	"testing/fstest"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/ops"
)

// startEdgeOps runs the anomaly side of ops on a venue edge: it mines the
// edge's own logs and its engine's advisories, and keeps the anomalies as
// alerts in the edge's engine (site = the venue), served to the edge's
// admin at GET /v1/anomalies and /v1/alerts. An edge has no stadion.yaml:
// the defaults apply, there are no SLOs and no receivers.
func startEdgeOps(ctx context.Context, eng *engine.Engine, o EdgeOptions, reg *prometheus.Registry) (*ops.SLOService, error) {
	cfg, err := config.Parse(nil, fstest.MapFS{}, ".")
	if err != nil {
		return nil, err
	}
	opt := ops.SLOOptions{Config: cfg, JS: eng.JS, Gatherer: reg, Registry: reg, Site: o.Venue, Logger: o.Logger}
	if o.Feed != nil {
		opt.Feed, opt.Conn = o.Feed, eng.Conn
	} else if t, ok := o.Logger.Handler().(*ops.LogTee); ok {
		opt.Feed, opt.Conn = t.Feed(), eng.Conn
	}
	s, err := ops.NewSLOService(opt)
	if err != nil {
		return nil, err
	}
	if err := s.Start(ctx); err != nil {
		s.Stop(context.Background())
		return nil, err
	}
	return s, nil
}
