package engine

// SlowConsumers is the number of times the embedded server cut a client
// that did not read fast enough, since it started; 0 for an external
// engine (its own monitoring reports it).
func (e *Engine) SlowConsumers() int64 {
	if e.srv == nil {
		return 0
	}
	v, err := e.srv.Varz(nil)
	if err != nil {
		return 0
	}
	return v.SlowConsumers
}

// ClusterPeers reports the JetStream cluster's size and how many of its
// servers are current (the leader and its caught-up peers); clustered is
// false for a single server or an external engine.
func (e *Engine) ClusterPeers() (size, current int, clustered bool) {
	if e.srv == nil {
		return 0, 0, false
	}
	js, err := e.srv.Jsz(nil)
	if err != nil || js.Meta == nil || js.Meta.Size < 2 {
		return 0, 0, false
	}
	if js.Meta.Leader != "" {
		current = 1
	}
	for _, p := range js.Meta.Replicas {
		if p.Current && !p.Offline {
			current++
		}
	}
	return js.Meta.Size, current, true
}
