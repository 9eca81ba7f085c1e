package exchange

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

func FuzzParseAPI(f *testing.F) {
	for _, s := range []string{
		"INFO", "STREAM.NAMES", "STREAM.LIST", "CONSUMER.CREATE.TOPIC_laps.sub-x",
		"CONSUMER.CREATE.TOPIC_laps.sub-x.topic.laps.>", "CONSUMER.DURABLE.CREATE.TOPIC_laps.sub-x",
		"CONSUMER.INFO.TOPIC_laps.sub-x", "CONSUMER.DELETE.TOPIC_laps.*", "CONSUMER.INFO.>.x",
		"CONSUMER.CREATE.TOPIC_laps", "STREAM.DELETE.TOPIC_laps", "CONSUMER.INFO.a.b.c", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		call, ok := parseAPI(rest)
		if !ok {
			return
		}
		if !strings.HasPrefix(rest, call.op) {
			t.Fatalf("%q parsed as %+v", rest, call)
		}
		if call.stream != "" && (!literalToken(call.stream) || strings.Contains(call.stream, ".")) {
			t.Fatalf("stream %q", call.stream)
		}
		if call.consumer != "" && (!literalToken(call.consumer) || strings.Contains(call.consumer, ".")) {
			t.Fatalf("consumer %q", call.consumer)
		}
		if (call.stream == "") != (call.consumer == "") {
			t.Fatalf("%q: stream without consumer or the reverse: %+v", rest, call)
		}
	})
}

// FuzzCheckCreate: whatever a client sends, what is forwarded is a pull
// consumer of the subject's name, filtered within the topic, owned by the
// client, and reads the same to a case-insensitive decoder.
func FuzzCheckCreate(f *testing.F) {
	for _, s := range []string{
		`{"stream_name":"TOPIC_laps","config":{"durable_name":"sub-x","ack_policy":"explicit","filter_subject":"topic.laps.>"}}`,
		`{"stream_name":"TOPIC_laps","config":{"name":"sub-x","deliver_subject":"mq.live.r.comments"}}`,
		`{"stream_name":"TOPIC_laps","config":{"name":"sub-x","DELIVER_SUBJECT":"x"}}`,
		`{"stream_name":"TOPIC_laps","config":{"name":"sub-x","filter_subjects":["topic.laps.a","topic.*.b"]}}`,
		`{"stream_name":"TOPIC_laps","config":{"name":"sub-x","metadata":{"stadion.client":"other"}}}`,
		`{"config":{"deliver_subject":"","deliver_subject":"y"}}`,
		`{}`, `[]`, `null`, ``,
	} {
		f.Add(s, "")
		f.Add(s, "topic.laps.>")
	}
	f.Fuzz(func(t *testing.T, body, filter string) {
		call := apiCall{op: "CONSUMER.CREATE", stream: "TOPIC_laps", consumer: "sub-x", filter: filter}
		out, err := checkCreate("sub", "laps", call, []byte(body))
		if err != nil {
			return
		}
		var req server.CreateConsumerRequest
		if err := json.Unmarshal(out, &req); err != nil {
			t.Fatalf("forwarded request does not decode: %v", err)
		}
		c := req.Config
		if req.Stream != "TOPIC_laps" || c.DeliverSubject != "" || c.DeliverGroup != "" || c.FlowControl || c.Direct || c.Sourcing {
			t.Fatalf("forwarded %s", out)
		}
		if c.Name != "sub-x" && c.Durable != "sub-x" || c.Name != "" && c.Name != "sub-x" || c.Durable != "" && c.Durable != "sub-x" {
			t.Fatalf("forwarded name %q/%q", c.Name, c.Durable)
		}
		for _, fs := range append([]string{c.FilterSubject}, c.FilterSubjects...) {
			if fs != "" && !withinTopic(fs, "laps") {
				t.Fatalf("forwarded filter %q", fs)
			}
		}
		if c.Metadata[ownerMeta] != "sub" {
			t.Fatalf("forwarded owner %q", c.Metadata[ownerMeta])
		}
	})
}
