package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/loop"
)

// FreezesBucket holds the freeze windows, one entry per name.
const FreezesBucket = "stadion-freezes"

// Freeze is a window in which changes in its scope by admin keys wait
// for a second person's approval (policy.go).
type Freeze struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Scope is "all", areas of the route table ("exchange", "gate", ...)
	// or "venue:<name>".
	Scope  []string `json:"scope"`
	Reason string   `json:"reason,omitempty"`
	// HoldFor is how long a change held under this freeze waits for its
	// approval before it expires (default 1h, 10s to 24h).
	HoldFor Duration  `json:"hold_for,omitzero"`
	By      Actor     `json:"by"`
	Created time.Time `json:"created"`
}

// Active reports whether the window is open at t.
func (f Freeze) Active(t time.Time) bool { return !t.Before(f.Start) && t.Before(f.End) }

// covers reports whether f's scope names area or venue.
func (f Freeze) covers(area, venue string) bool {
	for _, s := range f.Scope {
		if s == "all" || s == area || (venue != "" && s == "venue:"+venue) {
			return true
		}
	}
	return false
}

var freezeName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// maxFreezeSpan bounds one window: a forgotten freeze ends.
const maxFreezeSpan = 31 * 24 * time.Hour

// Validate checks f, naming the field at fault.
func (f Freeze) Validate() error {
	switch {
	case !freezeName.MatchString(f.Name):
		return fmt.Errorf("name: %q must be 1-64 lower-case letters, digits, '-' or '_'", f.Name)
	case f.End.IsZero():
		return fmt.Errorf("end: required (RFC 3339 time)")
	case !f.End.After(f.Start):
		return fmt.Errorf("end: %s is not after start %s", f.End.Format(time.RFC3339), f.Start.Format(time.RFC3339))
	case f.End.Sub(f.Start) > maxFreezeSpan:
		return fmt.Errorf("end: a freeze lasts at most %s", maxFreezeSpan)
	case len(f.Scope) == 0 || len(f.Scope) > 64:
		return fmt.Errorf("scope: name 1 to 64 of: all, %s, venue:NAME", strings.Join(FreezeAreas(), ", "))
	case len(f.Reason) > 500:
		return fmt.Errorf("reason: at most 500 bytes")
	case f.HoldFor != 0 && (f.HoldFor < Duration(10*time.Second) || f.HoldFor > Duration(24*time.Hour)):
		return fmt.Errorf("hold_for: %s is not between 10s and 24h", time.Duration(f.HoldFor))
	}
	areas := FreezeAreas()
	for _, s := range f.Scope {
		venue, isVenue := strings.CutPrefix(s, "venue:")
		if s == "all" || slices.Contains(areas, s) || isVenue && freezeName.MatchString(venue) {
			continue
		}
		return fmt.Errorf("scope: %q is not all, venue:NAME or one of %s", s, strings.Join(areas, ", "))
	}
	return nil
}

// Freezes keeps the windows of the engine's bucket in memory, following
// it, so every replica checks each request locally and a freeze set on
// one applies on all within the watch's delay. Safe for concurrent use.
type Freezes struct {
	kv  jetstream.KeyValue
	log *slog.Logger

	mu     sync.RWMutex
	byName map[string]Freeze
}

// OpenFreezes opens (creating) the bucket and follows it until ctx ends.
func OpenFreezes(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*Freezes, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: FreezesBucket, Description: "stadion change freezes", History: 1,
		MaxValueSize: 16 << 10, MaxBytes: 16 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("freezes: open bucket: %w", err)
	}
	f := &Freezes{kv: kv, log: log, byName: map[string]Freeze{}}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("freezes: watch: %w", err)
	}
	if _, err := loop.Follow(ctx, w, func(e jetstream.KeyValueEntry, _ bool) { f.apply(e) }); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *Freezes) apply(e jetstream.KeyValueEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(f.byName, e.Key())
		return
	}
	var fr Freeze
	if err := json.Unmarshal(e.Value(), &fr); err != nil {
		f.log.Warn("freezes: skipping unreadable record", "name", e.Key(), "err", err)
		return
	}
	f.byName[e.Key()] = fr
}

// Put stores fr (validated by the caller).
func (f *Freezes) Put(ctx context.Context, fr Freeze) error {
	raw, _ := json.Marshal(fr)
	if _, err := f.kv.Put(ctx, fr.Name, raw); err != nil {
		return fmt.Errorf("freezes: store: %w", err)
	}
	f.mu.Lock()
	f.byName[fr.Name] = fr
	f.mu.Unlock()
	return nil
}

// Delete removes freeze name; it reports whether there was one.
func (f *Freezes) Delete(ctx context.Context, name string) (bool, error) {
	if _, ok := f.Get(name); !ok {
		return false, nil
	}
	if err := f.kv.Delete(ctx, name); err != nil {
		return true, fmt.Errorf("freezes: delete: %w", err)
	}
	f.mu.Lock()
	delete(f.byName, name)
	f.mu.Unlock()
	return true, nil
}

// Get returns freeze name.
func (f *Freezes) Get(name string) (Freeze, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fr, ok := f.byName[name]
	return fr, ok
}

// List returns every freeze, by start.
func (f *Freezes) List() []Freeze {
	f.mu.RLock()
	out := make([]Freeze, 0, len(f.byName))
	for _, fr := range f.byName {
		out = append(out, fr)
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b Freeze) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// holdFor is how long a change held under freeze name waits.
func (f *Freezes) holdFor(name string) time.Duration {
	if fr, ok := f.Get(name); ok && fr.HoldFor > 0 {
		return time.Duration(fr.HoldFor)
	}
	return approvalTTL
}

// Duration is a time.Duration written as "90s" in JSON.
type Duration time.Duration

// MarshalJSON writes "1h0m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "90s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"15m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"15m\"", s)
	}
	*d = Duration(v)
	return nil
}

// Covering returns the name of a freeze open at t whose scope names area
// or venue (any open freeze when area is ""), or "".
func (f *Freezes) Covering(t time.Time, area, venue string) string {
	for _, fr := range f.List() {
		if fr.Active(t) && (area == "" || fr.covers(area, venue)) {
			return fr.Name
		}
	}
	return ""
}
