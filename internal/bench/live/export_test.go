package live

// Names the external tests (package live_test, which runs the command
// line) read the report through.

type LiveReport = liveReport
type LiveBrokerResult = liveBrokerResult
type RampResult = rampResult
