package exchange

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// publishLaps stores n laps and returns their receipts.
func publishLaps(h *harness, key string, n int) []Receipt {
	h.t.Helper()
	out := make([]Receipt, n)
	for i := range out {
		out[i] = h.mustPublish(key, "laps", fmt.Sprintf(`{"athlete":"NOR-%d","n":%d,"ms":1000}`, i+1, i+1))
	}
	return out
}

func seqs(evs []gotEvent) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

func TestReplay(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	rcs := publishLaps(h, pub, 7)
	// The time of event 4 lies between the storage of events 3 and 4: it is
	// taken after the 202 of event 3 and before event 4 is stored.
	ev4 := h.read(sub, "laps", "after_seq=3&limit=1").events[0]

	for _, tc := range []struct {
		query string
		want  []uint64
		next  uint64
	}{
		{"", []uint64{1, 2, 3, 4, 5, 6, 7}, 7},
		{"after_seq=0", []uint64{1, 2, 3, 4, 5, 6, 7}, 7},
		{"after_seq=2", []uint64{3, 4, 5, 6, 7}, 7},
		{"after_seq=2&limit=3", []uint64{3, 4, 5}, 5},
		{"limit=1", []uint64{1}, 1},
		{"after_seq=7", nil, 7},
		{"after_seq=100", nil, 100},
		{"since=" + url.QueryEscape(ev4.Time.Format(time.RFC3339Nano)), []uint64{4, 5, 6, 7}, 7},
		{"since=" + url.QueryEscape(ev4.Time.Format(time.RFC3339Nano)) + "&limit=2", []uint64{4, 5}, 5},
		{"since=1h", []uint64{1, 2, 3, 4, 5, 6, 7}, 7},
		{"since=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), nil, 0},
	} {
		t.Run(tc.query, func(t *testing.T) {
			h := h.as(t)
			p := h.read(sub, "laps", tc.query)
			if got := seqs(p.events); !slices.Equal(got, tc.want) {
				t.Errorf("seqs %v, want %v", got, tc.want)
			}
			if p.next != tc.next {
				t.Errorf("next_after_seq %d, want %d", p.next, tc.next)
			}
			for _, ev := range p.events {
				if ev.ID != rcs[ev.Seq-1].ID {
					t.Errorf("seq %d has id %s, want %s", ev.Seq, ev.ID, rcs[ev.Seq-1].ID)
				}
			}
		})
	}

	t.Run("paging with next_after_seq", func(t *testing.T) {
		h := h.as(t)
		var got []uint64
		after := uint64(0)
		for range 10 {
			p := h.read(sub, "laps", fmt.Sprintf("after_seq=%d&limit=3", after))
			if len(p.events) == 0 {
				break
			}
			got = append(got, seqs(p.events)...)
			after = p.next
		}
		if fmt.Sprint(got) != "[1 2 3 4 5 6 7]" {
			t.Errorf("paged seqs %v", got)
		}
	})

	for _, q := range []string{"after_seq=-1", "after_seq=x", "limit=0", "limit=1001", "since=yesterday", "since=-5m", "after_seq=1&since=1h"} {
		t.Run("bad/"+q, func(t *testing.T) {
			h := h.as(t)
			problem(t, h.do("GET", "/v1/topics/laps/events?"+q, sub, nil), http.StatusBadRequest, "/v1/topics/laps/events")
		})
	}
}

// sseEvent is one event of a Server-Sent Events stream.
type sseEvent struct {
	id   string
	data string
}

// sseStream is an open GET .../stream.
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	cancel context.CancelFunc
	events chan sseEvent
}

func (h *harness) stream(key, topic, query string, header ...string) *sseStream {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+"/v1/topics/"+topic+"/stream?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		cancel()
		h.t.Fatalf("stream: %v", err)
	}
	s := &sseStream{t: h.t, resp: resp, cancel: cancel, events: make(chan sseEvent, 64)}
	h.t.Cleanup(s.close)
	if resp.StatusCode != http.StatusOK {
		return s
	}
	go s.parse()
	return s
}

func (s *sseStream) parse() {
	defer close(s.events)
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev != (sseEvent{}) {
				s.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			ev.data += strings.TrimPrefix(line, "data: ")
		}
	}
}

func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next returns the next event, failing after a deadline.
func (s *sseStream) next() sseEvent {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatal("stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		s.t.Fatal("no event on the stream within 10s")
	}
	return sseEvent{}
}

// expect reads events and checks their ids (seqs) and that each data's
// seq matches its id.
func (s *sseStream) expect(seqs ...uint64) {
	s.t.Helper()
	for _, want := range seqs {
		ev := s.next()
		if ev.id != strconv.FormatUint(want, 10) {
			s.t.Fatalf("event id %q, want %d", ev.id, want)
		}
		got := parseEvent(s.t, []byte(ev.data))
		if got.Seq != want || got.SpecVersion != "1.0" {
			s.t.Fatalf("event data %s: seq %d, want %d", ev.data, got.Seq, want)
		}
	}
}

func TestStream(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	publishLaps(h, pub, 3)

	s := h.stream(sub, "laps", "after_seq=1")
	if s.resp.StatusCode != http.StatusOK || !strings.HasPrefix(s.resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", s.resp.StatusCode, s.resp.Header.Get("Content-Type"))
	}
	s.expect(2, 3)
	publishLaps(h, pub, 1) // seq 4
	s.expect(4)
	s.close()

	// A reconnecting EventSource sends the last id it saw.
	publishLaps(h, pub, 2) // seqs 5, 6
	r := h.stream(sub, "laps", "", "Last-Event-ID", "4")
	r.expect(5, 6)

	// Last-Event-ID wins over the query.
	q := h.stream(sub, "laps", "after_seq=1", "Last-Event-ID", "5")
	q.expect(6)

	// since works as for the replay read.
	sn := h.stream(sub, "laps", "since=1h")
	sn.expect(1, 2, 3, 4, 5, 6)

	// With nothing given, the stream starts with new events.
	nw := h.stream(sub, "laps", "")
	// The consumer exists before the headers are sent, so this is new.
	publishLaps(h, pub, 1) // seq 7
	nw.expect(7)

	t.Run("bad Last-Event-ID", func(t *testing.T) {
		h := h.as(t)
		req, _ := http.NewRequest("GET", h.srv.URL+"/v1/topics/laps/stream", nil)
		req.Header.Set("Authorization", "Bearer "+sub)
		req.Header.Set("Last-Event-ID", "abc")
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	})
}

// A client that snapshots an empty sync topic gets seq 0 and follows on with
// Last-Event-ID: 0; it must not miss events stored in between.
func TestStreamFromSeqZero(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	snap := h.snapshot(sub, "roster")
	if snap.Seq != 0 || len(snap.Events) != 0 {
		t.Fatalf("snapshot of an empty topic: %+v", snap)
	}
	rc := h.mustPublish(pub, "roster", `{"id":"a"}`)
	s := h.stream(sub, "roster", "", "Last-Event-ID", strconv.FormatUint(snap.Seq, 10))
	s.expect(rc.Seq)
	q := h.stream(sub, "roster", "after_seq=0")
	q.expect(rc.Seq)
}

type snapshotBody struct {
	Events []json.RawMessage `json:"events"`
	Seq    uint64            `json:"seq"`
	Topic  string            `json:"topic"`
}

func (h *harness) snapshot(key, topic string) snapshotBody {
	h.t.Helper()
	r := h.do("GET", "/v1/topics/"+topic+"/snapshot", key, nil)
	if r.status != http.StatusOK {
		h.t.Fatalf("snapshot %s: %d %s", topic, r.status, r.body)
	}
	var s snapshotBody
	if err := json.Unmarshal(r.body, &s); err != nil {
		h.t.Fatalf("snapshot %s: %v in %s", topic, err, r.body)
	}
	return s
}

func TestSnapshot(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	updates := []string{
		`{"id":"a","name":"a1"}`,
		`{"id":"b","name":"b1"}`,
		`{"id":"a","name":"a2"}`,
		`{"id":"Zoë / 1","name":"z1"}`,
		`{"id":7,"name":"seven"}`,
		`{"id":"b","name":"b2"}`,
		`{"id":"Zoë / 1","name":"z2"}`,
	}
	for _, u := range updates {
		h.mustPublish(pub, "roster", u)
	}
	snap := h.snapshot(sub, "roster")
	if snap.Topic != "roster" || snap.Seq != uint64(len(updates)) {
		t.Errorf("topic %q seq %d, want roster %d", snap.Topic, snap.Seq, len(updates))
	}
	latest := map[string]string{}
	var last uint64
	for _, raw := range snap.Events {
		ev := parseEvent(t, raw)
		if _, dup := latest[ev.Subject]; dup {
			t.Errorf("key %q twice in the snapshot", ev.Subject)
		}
		var data struct{ Name string }
		_ = json.Unmarshal(ev.Data, &data)
		latest[ev.Subject] = data.Name
		if ev.Seq <= last {
			t.Errorf("snapshot not in seq order: %d after %d", ev.Seq, last)
		}
		last = ev.Seq
	}
	want := map[string]string{"a": "a2", "b": "b2", "Zoë / 1": "z2", "7": "seven"}
	if fmt.Sprint(latest) != fmt.Sprint(want) {
		t.Errorf("snapshot %v, want %v", latest, want)
	}

	// Continue from the snapshot's seq: only later events.
	rc := h.mustPublish(pub, "roster", `{"id":"c"}`)
	if p := h.read(sub, "roster", fmt.Sprintf("after_seq=%d", snap.Seq)); len(p.events) != 1 || p.events[0].Seq != rc.Seq {
		t.Errorf("after the snapshot: %v, want [%d]", seqs(p.events), rc.Seq)
	}
	h.stream(sub, "roster", "", "Last-Event-ID", strconv.FormatUint(snap.Seq, 10)).expect(rc.Seq)

	t.Run("topic without key", func(t *testing.T) {
		h := h.as(t)
		other := h.key("other")
		problem(t, h.do("GET", "/v1/topics/notes/snapshot", other, nil), http.StatusBadRequest, "/v1/topics/notes/snapshot")
	})
	t.Run("more keys than one fetch", func(t *testing.T) {
		h := h.as(t)
		const n = 1100
		for start := 0; start < n; start += 250 {
			var items []string
			for i := start; i < min(start+250, n); i++ {
				items = append(items, fmt.Sprintf(`{"id":"k%d"}`, i))
			}
			if r := h.publish(pub, "roster", "["+strings.Join(items, ",")+"]"); r.status != http.StatusAccepted {
				t.Fatalf("%d %s", r.status, r.body)
			}
		}
		s := h.snapshot(sub, "roster")
		keys := map[string]bool{}
		for _, raw := range s.Events {
			keys[parseEvent(t, raw).Subject] = true
		}
		if len(s.Events) != n+5 || len(keys) != n+5 {
			t.Errorf("snapshot has %d events, %d keys, want %d", len(s.Events), len(keys), n+5)
		}
	})
	t.Run("realtime topic with key", func(t *testing.T) {
		h := h.as(t)
		publishLaps(h, pub, 2)
		h.mustPublish(pub, "laps", `{"athlete":"NOR-1","n":9,"ms":9}`)
		s := h.snapshot(sub, "laps")
		if len(s.Events) != 2 || s.Seq != 3 {
			t.Errorf("laps snapshot: %d events, seq %d", len(s.Events), s.Seq)
		}
	})
}

func TestTopicInfo(t *testing.T) {
	h := newHarness(t)
	pub, sub, other := h.key("pub"), h.key("sub"), h.key("other")
	publishLaps(h, pub, 3)
	h.mustPublish(pub, "laps", `{"athlete":"NOR-1","n":9,"ms":9}`)

	var list struct{ Topics []TopicInfo }
	r := h.do("GET", "/v1/topics", sub, nil)
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r.decode(t, &list)
	var names []string
	for _, ti := range list.Topics {
		names = append(names, ti.Name)
	}
	if fmt.Sprint(names) != "[laps roster]" {
		t.Errorf("sub sees topics %v, want [laps roster]", names)
	}
	laps := list.Topics[0]
	if laps.Events != 4 || laps.FirstSeq != 1 || laps.LastSeq != 4 || laps.Keys != 3 || laps.Bytes == 0 ||
		laps.LastTime == nil || laps.SchemaID != lapSchemaID || laps.Schema != nil ||
		laps.Kind != "realtime" || laps.Key != "/athlete" || laps.Stream != "TOPIC_laps" || laps.Subject != "topic.laps.>" {
		t.Errorf("laps in the list: %+v", laps)
	}
	if roster := list.Topics[1]; roster.Events != 0 || roster.LastSeq != 0 || roster.LastTime != nil || roster.Kind != "sync" {
		t.Errorf("roster in the list: %+v", roster)
	}

	var one TopicInfo
	r = h.do("GET", "/v1/topics/laps", sub, nil)
	r.decode(t, &one)
	if one.Events != 4 || one.LastSeq != 4 || one.Description != "lap times" {
		t.Errorf("laps: %+v", one)
	}
	assertJSONEqual(t, one.Schema, lapSchema)

	r = h.do("GET", "/v1/topics/laps/schema", pub, nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/schema+json" || string(r.body) != lapSchema {
		t.Errorf("schema: %d %s %q", r.status, r.header.Get("Content-Type"), r.body)
	}

	var all struct{ Topics []TopicInfo }
	h.do("GET", "/v1/topics", pub, nil).decode(t, &all)
	if len(all.Topics) != 3 {
		t.Errorf("the publisher sees %d topics, want 3", len(all.Topics))
	}

	problem(t, h.do("GET", "/v1/topics/laps", other, nil), http.StatusForbidden, "/v1/topics/laps")
	problem(t, h.do("GET", "/v1/topics/nope", sub, nil), http.StatusNotFound, "/v1/topics/nope")
	problem(t, h.do("GET", "/v1/topics/notes/schema", other, nil), http.StatusNotFound, "/v1/topics/notes/schema")
	problem(t, h.do("GET", "/v1/topics", "", nil), http.StatusUnauthorized, "/v1/topics")
}

// A key can read only the topics its client subscribes to.
func TestReadForbidden(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	h.mustPublish(pub, "notes", `{"secret":true}`)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/v1/topics/notes/events", ""},
		{"GET", "/v1/topics/notes/events?after_seq=0", ""},
		{"GET", "/v1/topics/notes/stream", ""},
		{"GET", "/v1/topics/notes/snapshot", ""},
		{"GET", "/v1/topics/notes", ""},
		{"PUT", "/v1/subscriptions/steal", `{"topic":"notes","start":"earliest"}`},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			h := h.as(t)
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			r := h.do(tc.method, tc.path, sub, body, "Content-Type", "application/json")
			path, _, _ := strings.Cut(tc.path, "?")
			problem(t, r, http.StatusForbidden, path)
			if strings.Contains(string(r.body), "secret") {
				t.Errorf("a 403 leaked data: %s", r.body)
			}
		})
	}
	// The publisher-only client cannot read either.
	problem(t, h.do("GET", "/v1/topics/laps/events", pub, nil), http.StatusForbidden, "/v1/topics/laps/events")
	// Nothing was created for the refused subscription.
	problem(t, h.do("GET", "/v1/subscriptions/steal", h.admin, nil), http.StatusNotFound, "/v1/subscriptions/steal")
}
