package client

import (
	"net/url"
	"time"
)

// CapturePath is the path of a capture job's resource, suffix appended.
func CapturePath(job, suffix string) string {
	return "/v1/capture/jobs/" + url.PathEscape(job) + suffix
}

// CaptureJobRow is one capture job as GET /v1/capture/jobs lists it.
type CaptureJobRow struct {
	Name   string `json:"name"`
	Origin string `json:"origin"`
	Spec   struct {
		Source string `json:"source"`
		Every  string `json:"every"`
		Cron   string `json:"cron"`
	} `json:"spec"`
	Captures       uint64     `json:"captures"`
	Failures       uint64     `json:"failures"`
	LastSuccess    *time.Time `json:"last_success"`
	LastError      string     `json:"last_error"`
	LastErrorAt    *time.Time `json:"last_error_at"`
	CapturesPerMin float64    `json:"captures_per_min"`
	LatencyP50MS   float64    `json:"latency_p50_ms"`
	LatencyP99MS   float64    `json:"latency_p99_ms"`
}

// CaptureFrame is one stored frame as GET /v1/capture/jobs/{job}/frames
// lists it.
type CaptureFrame struct {
	ID         string    `json:"id"`
	Trigger    string    `json:"trigger"`
	TickAt     time.Time `json:"tick_at"`
	CapturedAt time.Time `json:"captured_at"`
	Sizes      []struct {
		Size  string `json:"size"`
		Bytes int    `json:"bytes"`
		URL   string `json:"url"`
	} `json:"sizes"`
}

// State is "FAILING" while the job's last attempt failed (a stream that
// ended or stalled fails every tick until it is back), "ok" once it
// captured, "waiting" before.
func (j CaptureJobRow) State() string {
	switch {
	case j.LastErrorAt != nil && (j.LastSuccess == nil || j.LastErrorAt.After(*j.LastSuccess)):
		return "FAILING"
	case j.LastSuccess != nil:
		return "ok"
	}
	return "waiting"
}
