package exchange

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/engine"
)

// TopicInfo describes a topic and its stored events.
type TopicInfo struct {
	Name        string          `json:"name"`
	Kind        string          `json:"kind"`
	Key         string          `json:"key,omitempty"`
	Description string          `json:"description,omitempty"`
	Subject     string          `json:"subject"`
	Stream      string          `json:"stream"`
	Events      uint64          `json:"events"`
	Bytes       uint64          `json:"bytes"`
	Keys        uint64          `json:"keys,omitempty"`
	FirstSeq    uint64          `json:"first_seq"`
	LastSeq     uint64          `json:"last_seq"`
	LastTime    *time.Time      `json:"last_time,omitempty"`
	Retention   string          `json:"retention,omitempty"`
	Publishers  []string        `json:"publishers"`
	Subscribers []string        `json:"subscribers"`
	SchemaID    string          `json:"schema_id,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
}

func (x *Exchange) info(r *http.Request, t *topic, withSchema bool) (TopicInfo, error) {
	si, err := t.stream.Info(r.Context())
	if err != nil {
		return TopicInfo{}, engineErr(err)
	}
	ti := TopicInfo{
		Name: t.name, Kind: string(t.cfg.Kind), Key: t.cfg.Key, Description: t.cfg.Description,
		Subject: SubjectFilter(t.name), Stream: StreamName(t.name),
		Events: si.State.Msgs, Bytes: si.State.Bytes, FirstSeq: si.State.FirstSeq, LastSeq: si.State.LastSeq,
		Publishers: nonNil(t.cfg.Publishers), Subscribers: nonNil(t.cfg.Subscribers),
	}
	if t.cfg.Key != "" {
		ti.Keys = si.State.NumSubjects
	}
	if si.State.Msgs > 0 {
		lt := si.State.LastTime
		ti.LastTime = &lt
	}
	if t.cfg.Retention > 0 {
		ti.Retention = t.cfg.Retention.String()
	}
	if t.schema != nil {
		ti.SchemaID = t.schema.ID
		if withSchema {
			ti.Schema = t.schema.Raw
		}
	}
	return ti, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (x *Exchange) handleTopics(w http.ResponseWriter, r *http.Request) error {
	p, _ := api.PrincipalFrom(r.Context())
	out := []TopicInfo{}
	for _, name := range x.cfg.TopicNames() {
		t := x.topics[name]
		if !t.cfg.CanSubscribe(p.Client) && !t.cfg.CanPublish(p.Client) {
			continue
		}
		ti, err := x.info(r, t, false)
		if err != nil {
			return err
		}
		out = append(out, ti)
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"topics": out})
	return nil
}

// visible returns the topic if the caller may publish to or read it.
func (x *Exchange) visible(r *http.Request) (*topic, error) {
	t, err := x.lookup(r)
	if err != nil {
		return nil, err
	}
	p, _ := api.PrincipalFrom(r.Context())
	if !t.cfg.CanSubscribe(p.Client) && !t.cfg.CanPublish(p.Client) {
		return nil, api.Forbidden(fmt.Sprintf("client %q neither publishes nor subscribes to topic %q", p.Client, t.name))
	}
	return t, nil
}

func (x *Exchange) handleTopic(w http.ResponseWriter, r *http.Request) error {
	t, err := x.visible(r)
	if err != nil {
		return err
	}
	ti, err := x.info(r, t, true)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, ti)
	return nil
}

func (x *Exchange) handleSchema(w http.ResponseWriter, r *http.Request) error {
	t, err := x.visible(r)
	if err != nil {
		return err
	}
	if t.schema == nil {
		return api.NotFound(fmt.Sprintf("topic %q has no schema", t.name))
	}
	w.Header().Set("Content-Type", "application/schema+json")
	_, err = w.Write(t.schema.Raw)
	return err
}

// EventsPage is the answer to a replay read.
type EventsPage struct {
	Events []json.RawMessage `json:"events"`
	// NextAfterSeq is the after_seq to ask for the following page.
	NextAfterSeq uint64 `json:"next_after_seq"`
}

const defaultLimit, maxLimit = 100, 1000

func (x *Exchange) handleEvents(w http.ResponseWriter, r *http.Request) error {
	t, err := x.readable(r)
	if err != nil {
		return err
	}
	q, err := parseReadQuery(r)
	if err != nil {
		return err
	}
	msgs, err := engine.DirectGet(r.Context(), x.nc, StreamName(t.name), engine.GetRequest{Seq: q.afterSeq + 1, Since: q.since, Limit: q.limit})
	if err != nil {
		return engineErr(err)
	}
	page := EventsPage{Events: make([]json.RawMessage, 0, len(msgs)), NextAfterSeq: q.afterSeq}
	for _, m := range msgs {
		page.Events = append(page.Events, withSeq(m.Data, m.Seq))
		page.NextAfterSeq = m.Seq
	}
	api.WriteJSON(w, http.StatusOK, page)
	return nil
}

type readQuery struct {
	afterSeq uint64
	hasAfter bool // after_seq (or Last-Event-ID) was given, even as 0
	since    time.Time
	limit    int
}

func parseReadQuery(r *http.Request) (readQuery, error) {
	q := readQuery{limit: defaultLimit}
	v := r.URL.Query()
	if s := v.Get("after_seq"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return q, api.BadRequest("after_seq must be a non-negative integer")
		}
		q.afterSeq, q.hasAfter = n, true
	}
	if s := v.Get("since"); s != "" {
		t, err := parseSince(s)
		if err != nil {
			return q, err
		}
		q.since = t
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return q, api.BadRequest(fmt.Sprintf("limit must be 1-%d", maxLimit))
		}
		q.limit = n
	}
	if q.afterSeq > 0 && !q.since.IsZero() {
		return q, api.BadRequest("give after_seq or since, not both")
	}
	return q, nil
}

// parseSince accepts an RFC 3339 time or a duration back from now (10m).
func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, api.BadRequest("since must be an RFC 3339 time (2026-02-04T20:00:00Z) or a duration (10m)")
}

// readerIdle is how long the engine keeps an SSE or snapshot reader's
// consumer after its client went away (the library does not delete it).
const readerIdle = 30 * time.Second

// orderedFrom is the consumer configuration that starts after q.afterSeq
// (after_seq=0 is the beginning) or at q.since; with neither, it starts with
// new events.
func orderedFrom(t *topic, q readQuery) jetstream.OrderedConsumerConfig {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{SubjectFilter(t.name)}, InactiveThreshold: readerIdle}
	switch {
	case q.afterSeq > 0 || q.hasAfter:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, q.afterSeq+1
	case !q.since.IsZero():
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &q.since
	default:
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	}
	return cfg
}
