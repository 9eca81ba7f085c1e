package client

import (
	"encoding/json"
	"net/url"
	"strconv"
	"time"

	"github.com/stadion-dev/stadion/internal/cmdio"
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
	RowsWritten uint64     `json:"rows_written"` // by the server asked, since it started
	Rows        *uint64    `json:"rows"`         // in the table; nil when the database did not answer in time
	LastError   string     `json:"last_error"`
	LastErrorAt *time.Time `json:"last_error_at"`
	DeadLetters uint64     `json:"dead_letters"`
}

// SinkDeadLetter is one dead letter as GET /v1/sinks/{name}/dead-letters
// lists it (without the event).
type SinkDeadLetter struct {
	ID         uint64    `json:"id"`
	Seq        uint64    `json:"seq"`
	Error      string    `json:"error"`
	Attempts   int       `json:"attempts"`
	LastFailed time.Time `json:"last_failed"`
}

// SinkRedrive is the answer of a redrive.
type SinkRedrive struct {
	Redriven int `json:"redriven"`
	Failed   []struct {
		ID    uint64 `json:"id"`
		Error string `json:"error"`
	} `json:"failed"`
}

// DeadLetterIDs is the body of a redrive or drop of the dead letters with
// the given IDs (none: all).
func DeadLetterIDs(args []string) ([]byte, error) {
	ids := []uint64{}
	for _, a := range args {
		id, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return nil, cmdio.UsageErr("dead-letter IDs are numbers, not %q", a)
		}
		ids = append(ids, id)
	}
	return json.Marshal(map[string][]uint64{"ids": ids})
}
