package server

import (
	"context"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine"
)

// clusterStatus is GET /v1/cluster: how this node sees the engine's
// cluster and where every stadion stream's copies are. Admin only: it
// names internal streams and nodes.
type clusterStatus struct {
	Node      string                            `json:"node"`
	Clustered bool                              `json:"clustered"`
	Replicas  int                               `json:"replicas"`
	Leader    string                            `json:"meta_leader"`
	Size      int                               `json:"cluster_size"`
	Reachable []string                          `json:"reachable"`
	Quorum    string                            `json:"quorum"`
	Streams   map[string]engine.StreamPlacement `json:"streams"`
}

// clusterRoutes adds GET /v1/cluster.
func clusterRoutes(mux *api.Mux, eng *engine.Engine, cfg *config.Config, auth func(http.Handler) http.Handler) {
	mux.Handle("GET /v1/cluster", auth(api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if p, _ := api.PrincipalFrom(r.Context()); !p.Admin() {
			return api.Forbidden("only an admin key may read the cluster's status")
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		p := eng.Peers()
		st := clusterStatus{Node: cfg.Engine.Node, Clustered: p.Clustered, Replicas: cfg.Engine.Replicas,
			Leader: p.Leader, Size: p.Size, Reachable: p.Reachable, Quorum: "ok"}
		if why := eng.QuorumReason(); why != "" {
			st.Quorum = why
		}
		var names []string
		lister := eng.JS.StreamNames(ctx)
		for n := range lister.Name() {
			names = append(names, n)
		}
		if err := lister.Err(); err != nil && err != jetstream.ErrEndOfData {
			// Without a meta leader the engine cannot list streams: say
			// what is known rather than fail.
			st.Streams = map[string]engine.StreamPlacement{}
		} else {
			st.Streams = eng.Placement(ctx, names)
		}
		api.WriteJSON(w, http.StatusOK, st)
		return nil
	})))
}
