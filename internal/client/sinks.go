package client

import (
	"net/url"
	"time"
)

// SinkPath is the path of a sink's resource, suffix appended.
func SinkPath(name, suffix string) string { return "/v1/sinks/" + url.PathEscape(name) + suffix }

// SinkRow is one sink as GET /v1/sinks lists it.
type SinkRow struct {
	Name        string     `json:"name"`
	Topic       string     `json:"topic"`
	Database    string     `json:"database"`
	Table       string     `json:"table"`
	State       string     `json:"state"`
	RowsPerSec  float64    `json:"rows_per_sec"`
	Lag         uint64     `json:"lag"`
	RowsWritten uint64     `json:"rows_written"`
	LastError   string     `json:"last_error"`
	LastErrorAt *time.Time `json:"last_error_at"`
	DeadLetters uint64     `json:"dead_letters"`
}
