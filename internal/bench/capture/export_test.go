package capture

// Names the external tests (package capture_test, which runs the command
// line) read the report through.

type CaptureReport = captureReport
