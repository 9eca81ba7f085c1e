package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The history streams: one sample of every check a minute for a day, one
// aggregate an hour for a month. Every replica writes each sample with a
// message id naming its minute or hour, so the engine keeps the first and
// every replica follows the same history.
const (
	MinuteStream = "OPS_HEALTH_MIN"
	HourStream   = "OPS_HEALTH_HOUR"
	minuteSubj   = "ops.health.min"
	hourSubj     = "ops.health.hour"

	dayMinutes  = 24 * 60
	monthHours  = 31 * 24
	historyKeys = 1000 // checks with history; later ones are scored without
)

// sample is one stored minute or hour: check key → value (and max for
// hours).
type dayHigh struct {
	minute int64
	v      float64
	ok     bool
}

type sample struct {
	T   int64              `json:"t"` // unix minute or hour
	V   map[string]float64 `json:"v"`
	Max map[string]float64 `json:"max,omitempty"`
}

// History holds the per-minute and per-hour history of every check, as
// the engine's streams hold it. Safe for concurrent use.
type History struct {
	js  jetstream.JetStream
	log *slog.Logger

	mu      sync.Mutex
	minutes ring // by unix minute
	hours   ring // by unix hour (means)
	hourMax ring
	stops   []func()
	// lastMinute and lastHour are the samples this process has written.
	lastMinute, lastHour int64
	// highs caches each check's day-high water level for one minute
	// (it sorts a day of samples); at most historyKeys entries.
	highs map[string]dayHigh
}

// ring is per-key columns of float32 indexed by time unit modulo its size.
type ring struct {
	size  int64
	at    []int64 // the time unit each slot holds (-1: none)
	cols  map[string][]float32
	limit int
}

func newRing(size int64) ring {
	at := make([]int64, size)
	for i := range at {
		at[i] = -1
	}
	return ring{size: size, at: at, cols: map[string][]float32{}, limit: historyKeys}
}

func (r *ring) put(t int64, vals map[string]float64) {
	slot := t % r.size
	if r.at[slot] != t {
		if r.at[slot] > t {
			return // older than what the slot holds
		}
		for _, col := range r.cols {
			col[slot] = float32(math.NaN())
		}
		r.at[slot] = t
	}
	for k, v := range vals {
		col, ok := r.cols[k]
		if !ok {
			if len(r.cols) >= r.limit {
				continue
			}
			col = make([]float32, r.size)
			for i := range col {
				col[i] = float32(math.NaN())
			}
			r.cols[k] = col
		}
		col[slot] = float32(v)
	}
}

// series returns key's values from t-n+1 to t, oldest first, skipping gaps.
func (r *ring) series(key string, t, n int64) []float64 {
	col, ok := r.cols[key]
	if !ok {
		return nil
	}
	var out []float64
	for u := t - n + 1; u <= t; u++ {
		if u < 0 {
			continue
		}
		slot := u % r.size
		if r.at[slot] != u || math.IsNaN(float64(col[slot])) {
			continue
		}
		out = append(out, float64(col[slot]))
	}
	return out
}

// OpenHistory creates the history streams (idempotent) and follows them.
func OpenHistory(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*History, error) {
	h := &History{js: js, log: log, minutes: newRing(dayMinutes), hours: newRing(monthHours), hourMax: newRing(monthHours)}
	for _, sc := range []jetstream.StreamConfig{
		{Name: MinuteStream, Subjects: []string{minuteSubj}, MaxAge: 25 * time.Hour, MaxMsgs: dayMinutes + 120, MaxBytes: 96 << 20, Duplicates: 5 * time.Minute, Storage: jetstream.FileStorage, Discard: jetstream.DiscardOld},
		{Name: HourStream, Subjects: []string{hourSubj}, MaxAge: 32 * 24 * time.Hour, MaxMsgs: monthHours + 48, MaxBytes: 64 << 20, Duplicates: 2 * time.Hour, Storage: jetstream.FileStorage, Discard: jetstream.DiscardOld},
	} {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return nil, fmt.Errorf("ops: stream %s: %w", sc.Name, err)
		}
	}
	for _, s := range []struct {
		stream string
		apply  func(sample)
	}{{MinuteStream, h.applyMinute}, {HourStream, h.applyHour}} {
		cons, err := js.OrderedConsumer(ctx, s.stream, jetstream.OrderedConsumerConfig{})
		if err != nil {
			h.Stop()
			return nil, fmt.Errorf("ops: following %s: %w", s.stream, err)
		}
		apply := s.apply
		cc, err := cons.Consume(func(m jetstream.Msg) {
			var sm sample
			if json.Unmarshal(m.Data(), &sm) == nil {
				apply(sm)
			}
		})
		if err != nil {
			h.Stop()
			return nil, fmt.Errorf("ops: following %s: %w", s.stream, err)
		}
		h.stops = append(h.stops, cc.Stop)
	}
	return h, nil
}

// Stop stops following the streams.
func (h *History) Stop() {
	for _, stop := range h.stops {
		stop()
	}
	h.stops = nil
}

func (h *History) applyMinute(s sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.minutes.put(s.T, s.V)
}

func (h *History) applyHour(s sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hours.put(s.T, s.V)
	h.hourMax.put(s.T, s.Max)
}

// Record stores the values of checks for now's minute, and the previous
// hour's aggregate when now is in a new hour. Every replica may call it;
// the engine keeps one sample per minute and hour.
func (h *History) Record(ctx context.Context, now time.Time, checks []Check) error {
	minute := now.Unix() / 60
	h.mu.Lock()
	done := h.lastMinute == minute
	h.lastMinute = minute
	h.mu.Unlock()
	if done {
		return nil
	}
	vals := map[string]float64{}
	for _, c := range checks {
		if !c.NoHistory && len(vals) < historyKeys {
			vals[c.Key()] = finite(c.Value)
		}
	}
	if err := h.publish(ctx, minuteSubj, fmt.Sprintf("m%d", minute), sample{T: minute, V: vals}); err != nil {
		return err
	}
	hour := minute/60 - 1
	h.mu.Lock()
	if h.lastHour == hour {
		h.mu.Unlock()
		return nil
	}
	h.lastHour = hour
	agg := sample{T: hour, V: map[string]float64{}, Max: map[string]float64{}}
	for k := range h.minutes.cols {
		s := h.minutes.series(k, hour*60+59, 60)
		if len(s) == 0 {
			continue
		}
		var sum, hi float64
		hi = math.Inf(-1)
		for _, v := range s {
			sum += v
			hi = math.Max(hi, v)
		}
		agg.V[k], agg.Max[k] = sum/float64(len(s)), hi
	}
	h.mu.Unlock()
	if len(agg.V) == 0 {
		return nil
	}
	return h.publish(ctx, hourSubj, fmt.Sprintf("h%d", hour), agg)
}

func (h *History) publish(ctx context.Context, subj, id string, s sample) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: subj, Data: raw, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, id)
	_, err = h.js.PublishMsg(ctx, msg)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Past is what history says of c at now: the trend over the last 30
// minutes projected an hour ahead, and the 95th percentile of the day's
// minutes before this one (computed once a minute per check).
func (h *History) Past(now time.Time, c Check) Past {
	minute := now.Unix() / 60
	key := c.Key()
	h.mu.Lock()
	recent := h.minutes.series(key, minute-1, 29)
	high, cached := h.highs[key]
	if !cached || high.minute != minute {
		day := h.minutes.series(key, minute-1, dayMinutes-1)
		high = dayHigh{minute: minute}
		high.v, high.ok = percentile(day, 0.95)
		if h.highs == nil {
			h.highs = map[string]dayHigh{}
		}
		if _, in := h.minutes.cols[key]; in || len(h.highs) < historyKeys {
			h.highs[key] = high
		}
	}
	h.mu.Unlock()
	var p Past
	if v, ok := projection(append(recent, c.Value)); ok {
		v = finite(v)
		p.Projected = &v
	}
	if high.ok {
		v := high.v
		p.DayHigh = &v
	}
	return p
}

// Hourly returns key's hourly means and maxima over the last n hours
// before now, oldest first (gaps skipped), for trend charts.
func (h *History) Hourly(now time.Time, key string, n int64) (means, maxes []float64) {
	hour := now.Unix()/3600 - 1
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hours.series(key, hour, n), h.hourMax.series(key, hour, n)
}

// Minutes returns key's per-minute values over the last n minutes.
func (h *History) Minutes(now time.Time, key string, n int64) []float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.minutes.series(key, now.Unix()/60, n)
}
