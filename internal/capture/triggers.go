package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/exchange"
)

// triggers follows every exchange topic a job names under `on`, and
// publishes a tick for each matching event. Every process follows; the
// tick's Nats-Msg-Id (job and event sequence) keeps one capture.
func (s *Service) triggers(ctx context.Context) {
	running := map[string]context.CancelFunc{}
	defer func() {
		for _, stop := range running {
			stop()
		}
	}()
	changed := s.jobs.subscribe()
	for {
		want := map[string]bool{}
		for _, j := range s.jobs.all() {
			if j.spec.On != nil {
				want[j.spec.On.Topic] = true
			}
		}
		for topic, stop := range running {
			if !want[topic] {
				stop()
				delete(running, topic)
			}
		}
		for topic := range want {
			if _, ok := running[topic]; !ok {
				tctx, stop := context.WithCancel(ctx)
				running[topic] = stop
				go s.followTopic(tctx, topic)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// followTopic reads the topic's new events until ctx ends.
func (s *Service) followTopic(ctx context.Context, topic string) {
	cons, err := s.js.OrderedConsumer(ctx, exchange.StreamName(topic), jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverNewPolicy, FilterSubjects: []string{exchange.SubjectFilter(topic)},
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("capture triggers: following topic", "topic", topic, "err", err)
		}
		return
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		meta, err := msg.Metadata()
		if err != nil {
			return
		}
		s.fire(ctx, topic, meta.Sequence.Stream, msg.Data())
	})
	if err != nil {
		s.log.Error("capture triggers: consuming topic", "topic", topic, "err", err)
		return
	}
	<-ctx.Done()
	cc.Stop()
}

// fire publishes a tick for every job whose trigger matches the event.
func (s *Service) fire(ctx context.Context, topic string, seq uint64, envelope []byte) {
	var ev struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(envelope, &ev) != nil {
		return
	}
	var data any
	dec := json.NewDecoder(bytes.NewReader(ev.Data))
	dec.UseNumber()
	if dec.Decode(&data) != nil {
		return
	}
	for _, j := range s.jobs.all() {
		if on := j.spec.On; on != nil && on.Topic == topic && matches(data, on.Filter) {
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			s.publishTick(pctx, eventTick(j.name, topic, seq))
			cancel()
		}
	}
}

// matches reports whether every JSON pointer of filter has its value in
// data (compared as JSON, so 1 matches 1.0 but not "1").
func matches(data any, filter map[string]any) bool {
	for ptr, want := range filter {
		got, ok := lookup(data, ptr)
		if !ok || !sameJSON(got, want) {
			return false
		}
	}
	return true
}

func sameJSON(a, b any) bool {
	ra, err1 := json.Marshal(a)
	rb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return false
	}
	var na, nb any
	_ = json.Unmarshal(ra, &na)
	_ = json.Unmarshal(rb, &nb)
	ra, _ = json.Marshal(na)
	rb, _ = json.Marshal(nb)
	return bytes.Equal(ra, rb)
}

// lookup resolves a JSON pointer (RFC 6901) in decoded JSON.
func lookup(v any, ptr string) (any, bool) {
	for _, tok := range api.PointerTokens(ptr) {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}
