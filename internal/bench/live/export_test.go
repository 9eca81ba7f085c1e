package live

// Names the external tests (package live_test, which runs the command
// line) read the report through.

type LiveReport = liveReport
type LiveBrokerResult = liveBrokerResult
type RampResult = rampResult
type LiveStep = liveStep

func (b *liveBrokerResult) FanOutAt(qos int) *rampResult { return b.fanOutAt(qos) }
func (b *liveBrokerResult) LatencyAt(qos int) *liveStep  { return b.latencyAt(qos) }
