package server

import (
	"context"
	"net/http"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/ops"
)

// newPolicy builds the request policy of `up` (roles, freezes with
// two-person approval, the audit trail) over the engine, and closes the
// audit trail's subjects to the admin's NATS connections.
func (s *Server) newPolicy(ctx context.Context, env serverEnv) (*ops.Policy, error) {
	audit, err := ops.OpenAudit(ctx, s.eng.JS, env.reg)
	if err != nil {
		return nil, err
	}
	freezes, err := ops.OpenFreezes(ctx, s.eng.JS, env.log.With("service", "policy"))
	if err != nil {
		return nil, err
	}
	approvals, err := ops.OpenApprovals(ctx, s.eng.JS)
	if err != nil {
		return nil, err
	}
	s.eng.Protect(ops.AuditProtected...)
	return ops.NewPolicy(env.keys, audit, freezes, approvals, env.reg, env.log.With("service", "policy")), nil
}

// guarded is the authentication every keyed route goes through: the key,
// then the request policy.
func guarded(keys *api.Keys, pol *ops.Policy) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler { return api.Authenticate(keys, pol.Guard(h)) }
}
