package sink

// Names the external tests (package sink_test, which runs the command
// line) read the report through.

type SinkReport = sinkReport
