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
