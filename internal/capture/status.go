package capture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// statusBucket holds one status record per job, shared by every worker.
const statusBucket = "capture_status"

// recentSamples is how many recent captures a status keeps for its rates
// and latency percentiles.
const recentSamples = 120

// jobStatus is a job's record in the status bucket.
type jobStatus struct {
	Captures    uint64        `json:"captures"`
	Failures    uint64        `json:"failures"`
	Stale       uint64        `json:"stale_ticks"`
	LastSuccess *time.Time    `json:"last_success,omitempty"`
	LastError   string        `json:"last_error,omitempty"`
	LastErrorAt *time.Time    `json:"last_error_at,omitempty"`
	Latest      *Frame        `json:"latest,omitempty"`
	Recent      []sample      `json:"recent,omitempty"`
	Playlist    *playlistMark `json:"playlist,omitempty"`
}

// sample is one successful capture: when it was stored and how long after
// its tick.
type sample struct {
	At        time.Time `json:"at"`
	LatencyMS float64   `json:"latency_ms"`
}

type statusStore struct{ kv jetstream.KeyValue }

func openStatus(ctx context.Context, js jetstream.JetStream) (*statusStore, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: statusBucket, Description: "capture job status", Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("capture: status bucket: %w", err)
	}
	return &statusStore{kv: kv}, nil
}

// get returns job's status (zero when it has none yet).
func (s *statusStore) get(ctx context.Context, job string) (jobStatus, uint64, error) {
	var st jobStatus
	e, err := s.kv.Get(ctx, job)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return st, 0, nil
	}
	if err != nil {
		return st, 0, err
	}
	return st, e.Revision(), json.Unmarshal(e.Value(), &st)
}

// update applies change to job's status with optimistic concurrency, so
// workers of several processes never lose each other's updates.
func (s *statusStore) update(ctx context.Context, job string, change func(*jobStatus)) error {
	for attempt := 0; attempt < 20; attempt++ {
		st, rev, err := s.get(ctx, job)
		if err != nil {
			return err
		}
		change(&st)
		raw, _ := json.Marshal(st)
		if rev == 0 {
			_, err = s.kv.Create(ctx, job, raw)
		} else {
			_, err = s.kv.Update(ctx, job, raw, rev)
		}
		if err == nil || !isConflict(err) {
			return err
		}
	}
	return fmt.Errorf("capture: status of %s: too many concurrent updates", job)
}

func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	// A replicated bucket reports a revision conflict with another code
	// (10164) than a single copy (10071); ErrKeyRevisionMismatch is both.
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) ||
		(errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence)
}

func (s *statusStore) drop(ctx context.Context, job string) error {
	return s.kv.Purge(ctx, job)
}

// recordSuccess notes a stored frame.
func (st *jobStatus) recordSuccess(fr *Frame, latency time.Duration) {
	st.Captures++
	at := fr.CapturedAt
	st.LastSuccess = &at
	st.Latest = fr
	st.Recent = append(st.Recent, sample{At: at, LatencyMS: float64(latency.Microseconds()) / 1000})
	if len(st.Recent) > recentSamples {
		st.Recent = st.Recent[len(st.Recent)-recentSamples:]
	}
}

// recordFailure notes a capture that failed after its retries.
func (st *jobStatus) recordFailure(err error) {
	st.Failures++
	now := time.Now().UTC()
	st.LastError, st.LastErrorAt = err.Error(), &now
}

// perMinute is the capture rate over the last five minutes, or over the
// span of the recent samples when they cover less.
func (st *jobStatus) perMinute(now time.Time) float64 {
	window := 5 * time.Minute
	if len(st.Recent) == recentSamples {
		if span := now.Sub(st.Recent[0].At); span > 0 && span < window {
			window = span
		}
	}
	n := 0
	for _, s := range st.Recent {
		if now.Sub(s.At) <= window {
			n++
		}
	}
	return float64(n) / window.Minutes()
}

// latencyPercentile is the p-th percentile (0-100) of the recent
// tick-to-frame latencies, in ms; 0 with no samples.
func (st *jobStatus) latencyPercentile(p float64) float64 {
	if len(st.Recent) == 0 {
		return 0
	}
	v := make([]float64, len(st.Recent))
	for i, s := range st.Recent {
		v[i] = s.LatencyMS
	}
	slices.Sort(v)
	i := int(p / 100 * float64(len(v)-1))
	return v[i]
}
