package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/config"
)

// The inspection's state in the engine: reports in an object store (every
// replica and `stadion inspect system` see the same), and one claim per
// scheduled slot in a KV bucket so that one replica runs it.
const (
	ReportsBucket = "stadion-inspections"
	ClaimsBucket  = "stadion-inspection-runs"
)

// Inspector runs, stores and schedules inspections.
type Inspector struct {
	cfg     *config.Config
	js      jetstream.JetStream
	health  *Health
	budgets BudgetSource
	log     *slog.Logger
	now     func() time.Time

	store  jetstream.ObjectStore
	claims jetstream.KeyValue
	runMu  sync.Mutex // one inspection at a time in this process
	stop   chan struct{}
	wg     sync.WaitGroup
}

// InspectorOptions build an Inspector.
type InspectorOptions struct {
	Config  *config.Config
	JS      jetstream.JetStream
	Health  *Health
	Budgets BudgetSource // optional: SLO budgets
	Logger  *slog.Logger
}

// NewInspector builds the inspection; Start opens its buckets and schedule.
func NewInspector(o InspectorOptions) *Inspector {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Inspector{cfg: o.Config, js: o.JS, health: o.Health, budgets: o.Budgets, log: o.Logger.With("service", "inspection"), stop: make(chan struct{}), now: time.Now}
}

// Start opens the buckets and starts the schedule (health.inspection.every).
func (in *Inspector) Start(ctx context.Context) error {
	var err error
	in.store, err = in.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: ReportsBucket, Description: "stadion inspection reports (JSON and HTML)", MaxBytes: 32 << 20, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return fmt.Errorf("inspection: bucket %s: %w", ReportsBucket, err)
	}
	every := in.cfg.Health.Inspection.InspectionEvery()
	ttl := max(every, time.Hour) * 2
	in.claims, err = in.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: ClaimsBucket, Description: "which replica runs each scheduled inspection", History: 1, TTL: ttl, MaxBytes: 1 << 20,
	})
	if err != nil {
		return fmt.Errorf("inspection: bucket %s: %w", ClaimsBucket, err)
	}
	if every > 0 {
		in.wg.Add(1)
		go in.schedule(every)
	}
	return nil
}

// Stop ends the schedule, waiting for a run in progress within ctx.
func (in *Inspector) Stop(ctx context.Context) error {
	close(in.stop)
	done := make(chan struct{})
	go func() { in.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("inspection: stopping: %w", ctx.Err())
	}
}

// schedule runs an inspection at every multiple of every (UTC), on the
// one replica that claims the slot first.
func (in *Inspector) schedule(every time.Duration) {
	defer in.wg.Done()
	for {
		next := time.Now().Truncate(every).Add(every)
		select {
		case <-in.stop:
			return
		case <-time.After(time.Until(next)):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if _, err := in.runSlot(ctx, next); err != nil {
			in.log.Warn("scheduled inspection failed", "err", err)
		}
		cancel()
	}
}

// runSlot runs the scheduled inspection of slot if this replica is the
// first to claim it in the engine; ran says whether it did.
func (in *Inspector) runSlot(ctx context.Context, slot time.Time) (ran bool, err error) {
	key := fmt.Sprintf("slot-%d", slot.Unix())
	if _, err := in.claims.Create(ctx, key, []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return false, nil // another replica runs it
		}
		return false, fmt.Errorf("claiming %s: %w", key, err)
	}
	_, err = in.Run(ctx)
	return true, err
}

// Run inspects now, stores the report (JSON and HTML) and keeps the last
// health.inspection.keep.
func (in *Inspector) Run(ctx context.Context) (Inspection, error) {
	in.runMu.Lock()
	defer in.runMu.Unlock()
	prev, err := in.latest(ctx)
	if err != nil {
		return Inspection{}, err
	}
	rep := in.inspect(ctx, in.now(), prev)
	raw, _ := json.MarshalIndent(rep, "", "  ")
	if _, err := in.store.PutBytes(ctx, rep.ID+".json", raw); err != nil {
		return rep, fmt.Errorf("inspection: storing %s.json: %w", rep.ID, err)
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, rep); err != nil {
		return rep, err
	}
	if _, err := in.store.PutBytes(ctx, rep.ID+".html", page.Bytes()); err != nil {
		return rep, fmt.Errorf("inspection: storing %s.html: %w", rep.ID, err)
	}
	in.log.Info("inspection", "id", rep.ID, "score", rep.Score, "grade", rep.Grade, "findings", len(rep.Findings))
	return rep, in.prune(ctx)
}

// IDs lists the stored reports, oldest first.
func (in *Inspector) IDs(ctx context.Context) ([]string, error) {
	infos, err := in.store.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, i := range infos {
		if id, ok := strings.CutSuffix(i.Name, ".json"); ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Get reads a stored report's JSON or HTML (ext "json" or "html").
func (in *Inspector) Get(ctx context.Context, id, ext string) ([]byte, error) {
	return in.store.GetBytes(ctx, id+"."+ext)
}

func (in *Inspector) latest(ctx context.Context) (*Inspection, error) {
	ids, err := in.IDs(ctx)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	raw, err := in.Get(ctx, ids[len(ids)-1], "json")
	if err != nil {
		return nil, err
	}
	var prev Inspection
	if json.Unmarshal(raw, &prev) != nil {
		return nil, nil // an unreadable report is not compared against
	}
	return &prev, nil
}

func (in *Inspector) prune(ctx context.Context) error {
	ids, err := in.IDs(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for len(ids) > in.cfg.Health.Inspection.Keep {
		for _, ext := range []string{".json", ".html"} {
			if err := in.store.Delete(ctx, ids[0]+ext); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
				errs = append(errs, err)
			}
		}
		ids = ids[1:]
	}
	return errors.Join(errs...)
}
