package ops

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// EngineChecks measures the engine: storage and memory against their
// limits, every stream against its own byte and message limits, streams
// with fewer current replicas than configured, and slow consumers.
type EngineChecks struct {
	JS                 jetstream.JetStream
	MaxDisk, MaxMemory int64        // the engine's limits (0: unknown)
	SlowConsumers      func() int64 // nil: not measured
	// ClusterPeers reports the JetStream cluster's size and current
	// servers (nil, or clustered false: a single server).
	ClusterPeers func() (size, current int, clustered bool)
}

var _ Source = (*EngineChecks)(nil)

// Checks implements Source.
func (e *EngineChecks) Checks(ctx context.Context) []Check {
	var out []Check
	ai, err := e.JS.AccountInfo(ctx)
	if err != nil {
		return []Check{State(SiteCloud, "engine", "reachable", true, "JetStream account info: "+err.Error())}
	}
	out = append(out, State(SiteCloud, "engine", "reachable", false, ""))
	if e.MaxDisk > 0 {
		out = append(out, Check{Site: SiteCloud, Component: "engine", Name: "disk_used", Unit: "ratio", Warn: 0.7, Crit: 0.9, Weight: 2,
			Value: float64(ai.Store) / float64(e.MaxDisk), Detail: fmt.Sprintf("%d of %d bytes of JetStream file storage (engine.max_disk)", ai.Store, e.MaxDisk)})
	}
	if e.MaxMemory > 0 {
		out = append(out, Check{Site: SiteCloud, Component: "engine", Name: "memory_used", Unit: "ratio", Warn: 0.7, Crit: 0.9,
			Value: float64(ai.Memory) / float64(e.MaxMemory), Detail: fmt.Sprintf("%d of %d bytes of JetStream memory storage (engine.max_memory)", ai.Memory, e.MaxMemory)})
	}
	if e.SlowConsumers != nil {
		out = append(out, Check{Site: SiteCloud, Component: "engine", Name: "slow_consumers", Unit: "count", Warn: 0, Crit: 10,
			Value: float64(e.SlowConsumers()), Detail: "clients cut for not reading fast enough since start"})
	}
	if e.ClusterPeers != nil {
		if size, current, ok := e.ClusterPeers(); ok {
			quorum := size/2 + 1
			out = append(out, Check{Site: SiteCloud, Component: "engine", Name: "cluster_peers_missing", Unit: "count", Warn: 0, Crit: float64(size - quorum), Weight: 3,
				Value: float64(size - current), Detail: fmt.Sprintf("%d of %d JetStream servers current; the cluster needs %d", current, size, quorum)})
		}
	}
	return append(out, e.streams(ctx)...)
}

// streams checks each stream with limits; a stream without limits is not
// a component.
func (e *EngineChecks) streams(ctx context.Context) []Check {
	var out []Check
	l := e.JS.ListStreams(ctx)
	for si := range l.Info() {
		cfg, st := si.Config, si.State
		comp := "stream/" + cfg.Name
		if cfg.MaxBytes > 0 {
			out = append(out, Check{Site: SiteCloud, Component: comp, Name: "bytes_used", Unit: "ratio", Warn: 0.8, Crit: 0.95,
				Value:  float64(st.Bytes) / float64(cfg.MaxBytes),
				Detail: fmt.Sprintf("%d of max_bytes %d (%s discards %s beyond)", st.Bytes, cfg.MaxBytes, cfg.Name, discard(cfg.Discard))})
		}
		if cfg.MaxMsgs > 0 && cfg.Discard == jetstream.DiscardNew { // with DiscardOld a full stream just rotates
			out = append(out, Check{Site: SiteCloud, Component: comp, Name: "msgs_used", Unit: "ratio", Warn: 0.8, Crit: 0.95,
				Value: float64(st.Msgs) / float64(cfg.MaxMsgs), Detail: fmt.Sprintf("%d of max_msgs %d", st.Msgs, cfg.MaxMsgs)})
		}
		if cfg.Replicas > 1 && si.Cluster != nil {
			current := 1
			for _, r := range si.Cluster.Replicas {
				if r.Current && !r.Offline {
					current++
				}
			}
			out = append(out, Check{Site: SiteCloud, Component: comp, Name: "replicas_missing", Unit: "count", Warn: 0, Crit: 1, Weight: 2,
				Value: float64(cfg.Replicas - current), Detail: fmt.Sprintf("%d of %d replicas current", current, cfg.Replicas)})
		}
	}
	if err := l.Err(); err != nil {
		out = append(out, State(SiteCloud, "engine", "stream_list", true, "listing streams: "+err.Error()))
	}
	return out
}

func discard(d jetstream.DiscardPolicy) string {
	if d == jetstream.DiscardNew {
		return "new events"
	}
	return "the oldest events"
}
