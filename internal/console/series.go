package console

import (
	"math"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// source is one metric family of this process's registry that the
// console keeps an hour of: a counter becomes a per-second rate, a gauge
// is kept as it is. scope names who may see its series (see visible).
type source struct {
	family string
	label  string // the label that names the series ("" for one series)
	id     string // series id; %s is the label's value
	unit   string
	rate   bool
	scope  string // "topic": the topic's publishers and subscribers too; "admin": the admin key only
	extra  string // a second label appended to the id ("/" + value), e.g. a capture's result
}

// sources are the series the console charts. They come from this
// process's own metrics, so with several replicas behind a load balancer
// each shows what it served.
var sources = []source{
	{family: "stadion_exchange_events_published_total", label: "topic", id: "topic/%s/rate", unit: "events/s", rate: true, scope: "topic"},
	{family: "stadion_subscription_lag", label: "subscription", id: "subscription/%s/lag", unit: "events", scope: "admin"},
	{family: "stadion_sink_rows_written_total", label: "sink", id: "sink/%s/rows", unit: "rows/s", rate: true, scope: "admin"},
	{family: "stadion_sink_lag", label: "sink", id: "sink/%s/lag", unit: "events", scope: "admin"},
	{family: "stadion_live_comments_accepted_total", id: "live/accepted", unit: "comments/s", rate: true, scope: "admin"},
	{family: "stadion_live_comments_rejected_total", label: "reason", id: "live/rejected/%s", unit: "comments/s", rate: true, scope: "admin"},
	{family: "stadion_live_mqtt_connections", id: "live/connections", unit: "connections", scope: "admin"},
	{family: "stadion_gate_scans_forwarded_total", label: "venue", id: "venue/%s/scans", unit: "scans/s", rate: true, scope: "admin"},
	{family: "stadion_capture_captures_total", label: "job", extra: "result", id: "capture/%s", unit: "captures/s", rate: true, scope: "admin"},
}

// series is one line of a chart: the last hour of one value, a point per
// sampling interval, NaN where the process had no value.
type series struct {
	id, unit, scope, name string
	vals                  []float64 // ring, aligned with store.times
	prev                  float64   // the counter's last reading
	hasPrev               bool
}

// store is the ring of samples: times[i] and every series' vals[i] belong
// together; next is the slot the next sample goes to. Safe for concurrent
// use.
type store struct {
	mu      sync.RWMutex
	size    int
	max     int // series kept at most; more are counted and dropped
	times   []time.Time
	next    int
	filled  int
	series  map[string]*series
	dropped prometheus.Counter
}

func newStore(size, maxSeries int, dropped prometheus.Counter) *store {
	return &store{size: size, max: maxSeries, times: make([]time.Time, size), series: map[string]*series{}, dropped: dropped}
}

// reading is one value read from the registry in one sample.
type reading struct {
	src   source
	name  string // the label value, the topic or sink the series is of
	id    string
	value float64
}

// readings walks the gathered families and returns the sources' values.
func readings(mfs []*dto.MetricFamily) []reading {
	bySrc := map[string][]source{}
	for _, s := range sources {
		bySrc[s.family] = append(bySrc[s.family], s)
	}
	var out []reading
	for _, mf := range mfs {
		for _, src := range bySrc[mf.GetName()] {
			for _, m := range mf.GetMetric() {
				name := labelValue(m, src.label)
				id := src.id
				if src.label != "" {
					id = sprintfID(src.id, name)
				}
				if src.extra != "" {
					id += "/" + labelValue(m, src.extra)
				}
				out = append(out, reading{src: src, name: name, id: id, value: metricValue(m)})
			}
		}
	}
	return out
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return math.NaN()
}

// sprintfID puts a label value into a series id pattern ("topic/%s/rate").
func sprintfID(pattern, v string) string {
	for i := 0; i+1 < len(pattern); i++ {
		if pattern[i] == '%' && pattern[i+1] == 's' {
			return pattern[:i] + v + pattern[i+2:]
		}
	}
	return pattern
}

// add stores one sample taken at now, dt after the previous one, and
// returns the values it stored by series id.
func (st *store) add(now time.Time, dt time.Duration, rs []reading) map[string]float64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	slot := st.next
	st.times[slot] = now
	for _, s := range st.series {
		s.vals[slot] = math.NaN()
	}
	out := make(map[string]float64, len(rs))
	for _, r := range rs {
		s := st.series[r.id]
		if s == nil {
			if len(st.series) >= st.max {
				st.dropped.Inc()
				continue
			}
			s = &series{id: r.id, unit: r.src.unit, scope: r.src.scope, name: r.name, vals: make([]float64, st.size)}
			for i := range s.vals {
				s.vals[i] = math.NaN()
			}
			// A counter first seen after the first sample was created
			// since the last one, from zero.
			s.hasPrev = st.filled > 0
			st.series[r.id] = s
		}
		v := r.value
		if r.src.rate {
			v = rateOf(s, r.value, dt)
		}
		if math.IsInf(v, 0) {
			v = math.NaN() // JSON has no infinities; the page shows a gap
		}
		s.vals[slot] = v
		out[r.id] = v
	}
	st.next = (st.next + 1) % st.size
	st.filled = min(st.filled+1, st.size)
	return out
}

// rateOf turns a counter reading into a per-second rate since the last
// one; a counter that went down restarted (the process, or its series).
func rateOf(s *series, v float64, dt time.Duration) float64 {
	prev, had := s.prev, s.hasPrev
	s.prev, s.hasPrev = v, true
	if !had || dt <= 0 {
		return math.NaN()
	}
	d := v - prev
	if d < 0 {
		d = v
	}
	return d / dt.Seconds()
}

// Series is one series as the API answers it: Values[i] was taken at
// Start + i*Step seconds; null where there was no value.
type Series struct {
	ID     string     `json:"id"`
	Unit   string     `json:"unit"`
	Values []*float64 `json:"values"`
}

// SeriesPage is the answer of GET /v1/console/series.
type SeriesPage struct {
	Times  []int64  `json:"times"` // Unix seconds of each sample, oldest first
	Step   float64  `json:"step"`  // the sampling interval in seconds
	Series []Series `json:"series"`
}

// page returns the samples, oldest first, of the series show allows.
func (st *store) page(step time.Duration, show func(*series) bool) SeriesPage {
	st.mu.RLock()
	defer st.mu.RUnlock()
	order := make([]int, 0, st.filled)
	for i := st.filled; i > 0; i-- {
		order = append(order, (st.next-i+st.size)%st.size)
	}
	p := SeriesPage{Step: step.Seconds(), Times: make([]int64, len(order)), Series: []Series{}}
	for i, slot := range order {
		p.Times[i] = st.times[slot].Unix()
	}
	for _, s := range st.series {
		if !show(s) {
			continue
		}
		out := Series{ID: s.id, Unit: s.unit, Values: make([]*float64, len(order))}
		for i, slot := range order {
			if v := s.vals[slot]; !math.IsNaN(v) {
				out.Values[i] = &v
			}
		}
		p.Series = append(p.Series, out)
	}
	sort.Slice(p.Series, func(i, j int) bool { return p.Series[i].ID < p.Series[j].ID })
	return p
}

// lookup returns the series with id (nil if none), for visibility checks.
func (st *store) lookup(id string) *series {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.series[id]
}

// count is the number of series kept.
func (st *store) count() int {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return len(st.series)
}
