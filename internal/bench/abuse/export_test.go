package abuse

// Names the external tests (package abuse_test, which runs the command
// line) read the report through.

type AbuseReport = abuseReport
