package server

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/limits"
	"github.com/stadion-dev/stadion/internal/live"
)

// startLimits starts the runtime limits (internal/limits) before the
// services whose requests they check.
func (s *Server) startLimits(ctx context.Context, env serverEnv) (*limits.Service, error) {
	l, err := limits.New(env.cfg, env.eng.Conn, env.eng.JS, env.reg, limits.Options{Peers: env.peers.Count, Logger: env.log})
	if err != nil {
		return nil, err
	}
	if err := l.Start(ctx); err != nil {
		return nil, err
	}
	s.svcs = append(s.svcs, l)
	return l, nil
}

// limitHTTP puts the limits in front of the whole API.
func limitHTTP(l *limits.Service, keys *api.Keys, h http.Handler) http.Handler {
	ident := func(r *http.Request) (*http.Request, string, string, bool) {
		r, p, ok := api.ResolvePrincipal(keys, r)
		return r, p.Client, p.KeyID, ok
	}
	return l.Limiter().Middleware(ident, h)
}

// mqttLimits is live's view of the limits.
type mqttLimits struct{ lm *limits.Limiter }

var _ live.Limits = mqttLimits{}

func (m mqttLimits) Allow(e live.LimitEvent) (string, time.Duration, bool) {
	r := limits.Request{Method: limits.MethodPublish, Path: e.Topic, UserAgent: e.ClientID, Client: e.Client, KeyID: e.KeyID, MQTTUser: e.User, Anonymous: e.Anonymous}
	if e.Connect {
		r.Method, r.Path = limits.MethodConnect, ""
	}
	if e.Remote != nil {
		if ap, err := netip.ParseAddrPort(e.Remote.String()); err == nil {
			r.Source = ap.Addr().Unmap()
		} else if ta, ok := e.Remote.(*net.TCPAddr); ok {
			r.Source, _ = netip.AddrFromSlice(ta.IP)
			r.Source = r.Source.Unmap()
		}
	}
	d := m.lm.Check(&r)
	d.Done()
	return d.Limit, d.RetryAfter, !d.Refused
}
