package capture

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
)

// JobSpec is a capture job as the API reads and writes it: the fields of
// a job under capture.jobs, durations as strings.
type JobSpec struct {
	Source        string       `json:"source"`
	Every         string       `json:"every,omitempty"`
	Cron          string       `json:"cron,omitempty"`
	Sizes         []string     `json:"sizes,omitempty"`
	Format        string       `json:"format,omitempty"`
	KeyframesOnly bool         `json:"keyframes_only"`
	AvoidBlank    bool         `json:"avoid_blank"`
	Retention     string       `json:"retention,omitempty"`
	Timeout       string       `json:"timeout,omitempty"`
	On            *TriggerSpec `json:"on,omitempty"`
}

// TriggerSpec fires a capture for every matching event of a topic.
type TriggerSpec struct {
	Topic  string         `json:"topic"`
	Filter map[string]any `json:"filter,omitempty"`
}

// specOf is the API form of a configured job.
func specOf(j config.CaptureJob) JobSpec {
	s := JobSpec{
		Source: j.Source, Cron: j.Cron, Sizes: j.Sizes, Format: j.Format,
		KeyframesOnly: j.KeyframesOnly, AvoidBlank: j.AvoidBlank,
		Retention: j.Retention.String(), Timeout: j.Timeout.String(),
	}
	if j.Every != 0 {
		s.Every = j.Every.String()
	}
	if j.On != nil {
		s.On = &TriggerSpec{Topic: j.On.Topic, Filter: j.On.Filter}
	}
	return s
}

// config turns the API form into a job with defaults, validated; errors
// name the JSON field.
func (s JobSpec) config(cc *config.Capture) (config.CaptureJob, error) {
	j := config.CaptureJob{
		Source: s.Source, Cron: s.Cron, Sizes: s.Sizes, Format: s.Format,
		KeyframesOnly: s.KeyframesOnly, AvoidBlank: s.AvoidBlank,
	}
	var errs []error
	for _, d := range []struct {
		field string
		in    string
		out   *config.Duration
	}{{"every", s.Every, &j.Every}, {"retention", s.Retention, &j.Retention}, {"timeout", s.Timeout, &j.Timeout}} {
		if d.in == "" {
			continue
		}
		v, err := config.ParseDuration(d.in)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.field, err))
		}
		*d.out = v
	}
	if s.On != nil {
		j.On = &config.CaptureTrigger{Topic: s.On.Topic, Filter: s.On.Filter}
	}
	cc.JobDefaults(&j)
	return j, errors.Join(errs...)
}

// waitApplied polls until this process's registry has (or no longer has)
// the job, so that a PUT's answer holds for the next request.
func (r *registry) waitApplied(ctx context.Context, name string, present bool) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if _, ok := r.get(name); ok == present {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the job was stored but not yet applied: %w", ctx.Err())
		case <-t.C:
		}
	}
}
