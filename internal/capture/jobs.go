package capture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/config"
)

// jobsBucket is the KV bucket of jobs added through the API, so that every
// process sees them.
const jobsBucket = "capture_jobs"

// Where a job comes from.
const (
	originConfig = "config"
	originAPI    = "api"
)

// job is one capture job at run time.
type job struct {
	name   string
	spec   config.CaptureJob
	origin string
	cron   *config.Cron // nil unless spec.Cron is set
}

func newJob(name, origin string, spec config.CaptureJob) (*job, error) {
	j := &job{name: name, spec: spec, origin: origin}
	if spec.Cron != "" {
		c, err := config.ParseCron(spec.Cron)
		if err != nil {
			return nil, err
		}
		j.cron = c
	}
	return j, nil
}

// registry holds the jobs of the file and of the API, and tells the
// scheduler when they change.
type registry struct {
	cc  *config.Capture
	log *slog.Logger
	kv  jetstream.KeyValue

	mu    sync.RWMutex
	jobs  map[string]*job
	watch []chan struct{}
}

func newRegistry(cc *config.Capture, log *slog.Logger) *registry {
	r := &registry{cc: cc, log: log, jobs: map[string]*job{}}
	for name, spec := range cc.Jobs {
		j, _ := newJob(name, originConfig, *spec) // validated with the file
		r.jobs[name] = j
	}
	return r
}

func (r *registry) open(ctx context.Context, js jetstream.JetStream) error {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: jobsBucket, Description: "capture jobs added through the API", Storage: jetstream.FileStorage,
	})
	if err != nil {
		return fmt.Errorf("capture: jobs bucket: %w", err)
	}
	r.kv = kv
	return nil
}

// follow applies the API's jobs as they change, until ctx ends.
func (r *registry) follow(ctx context.Context) {
	w, err := r.kv.WatchAll(ctx)
	if err != nil {
		r.log.Error("watching capture jobs", "err", err)
		return
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e != nil {
				r.apply(e)
			}
		}
	}
}

func (r *registry) apply(e jetstream.KeyValueEntry) {
	name := e.Key()
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, ok := r.jobs[name]; ok && cur.origin == originConfig {
		return
	}
	defer r.notify()
	if e.Operation() != jetstream.KeyValuePut {
		delete(r.jobs, name)
		return
	}
	var spec JobSpec
	if err := json.Unmarshal(e.Value(), &spec); err != nil {
		r.log.Error("a stored capture job does not decode", "job", name, "err", err)
		return
	}
	cj, err := spec.config(r.cc)
	if err == nil {
		var j *job
		if j, err = newJob(name, originAPI, cj); err == nil {
			r.jobs[name] = j
			return
		}
	}
	r.log.Error("a stored capture job is invalid", "job", name, "err", err)
}

// subscribe returns a channel that receives a value after the jobs change.
func (r *registry) subscribe() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan struct{}, 1)
	r.watch = append(r.watch, ch)
	return ch
}

// notify wakes every subscriber; the caller holds r.mu.
func (r *registry) notify() {
	for _, ch := range r.watch {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (r *registry) get(name string) (*job, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	j, ok := r.jobs[name]
	return j, ok
}

// all returns the jobs sorted by name.
func (r *registry) all() []*job {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*job, 0, len(r.jobs))
	for _, j := range r.jobs {
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b *job) int { return cmpString(a.name, b.name) })
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// errConfigJob means a job of the file cannot be changed through the API.
var errConfigJob = errors.New("the job is defined in stadion.yaml; change it there")

// put stores an API job; every process applies it from the bucket.
func (r *registry) put(ctx context.Context, name string, spec JobSpec) error {
	if j, ok := r.get(name); ok && j.origin == originConfig {
		return errConfigJob
	}
	raw, _ := json.Marshal(spec)
	if _, err := r.kv.Put(ctx, name, raw); err != nil {
		return err
	}
	return r.waitApplied(ctx, name, true)
}

// remove deletes an API job; it reports whether there was one.
func (r *registry) remove(ctx context.Context, name string) (bool, error) {
	j, ok := r.get(name)
	if ok && j.origin == originConfig {
		return false, errConfigJob
	}
	if !ok {
		return false, nil
	}
	if err := r.kv.Delete(ctx, name); err != nil {
		return false, err
	}
	return true, r.waitApplied(ctx, name, false)
}
