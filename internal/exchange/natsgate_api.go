package exchange

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
)

// ownerMeta is the consumer metadata key naming the client that created a
// consumer through the gateway (for operators; ownership is by name).
const ownerMeta = "stadion.client"

// apiCall is a JetStream API request the gateway serves.
type apiCall struct {
	op       string // e.g. CONSUMER.CREATE
	stream   string
	consumer string
	filter   string // the filter subject in CONSUMER.CREATE.<s>.<c>.<filter>
}

// apiOps are the operations the gateway serves, with the tokens that
// follow: s stream, c consumer, f an optional filter subject.
var apiOps = []struct{ op, args string }{
	{"CONSUMER.DURABLE.CREATE", "sc"},
	{"CONSUMER.CREATE", "scf"},
	{"CONSUMER.INFO", "sc"},
	{"CONSUMER.DELETE", "sc"},
	{"STREAM.NAMES", ""},
	{"STREAM.LIST", ""},
	{"INFO", ""},
}

// parseAPI reads the subject of a request after $JS.API. Only subjects of
// exactly the shape JetStream serves are accepted; no token may be a
// wildcard except within a filter subject.
func parseAPI(rest string) (apiCall, bool) {
	for _, o := range apiOps {
		if rest == o.op {
			return apiCall{op: o.op}, o.args == ""
		}
		tail, ok := strings.CutPrefix(rest, o.op+".")
		if !ok || o.args == "" {
			continue
		}
		toks := strings.Split(tail, ".")
		if len(toks) < 2 || !literalToken(toks[0]) || !literalToken(toks[1]) {
			return apiCall{}, false
		}
		call := apiCall{op: o.op, stream: toks[0], consumer: toks[1]}
		if len(toks) == 2 {
			return call, true
		}
		if o.args != "scf" {
			return apiCall{}, false
		}
		call.filter = strings.Join(toks[2:], ".")
		return call, validSubject(call.filter)
	}
	return apiCall{}, false
}

func literalToken(t string) bool {
	return t != "" && t != "*" && t != ">" && !strings.ContainsAny(t, " \t\r\n")
}

// validSubject reports whether s is a subject (wildcards allowed, '>' last).
func validSubject(s string) bool {
	toks := strings.Split(s, ".")
	for i, t := range toks {
		if t == "" || strings.ContainsAny(t, " \t\r\n") || t == ">" && i != len(toks)-1 {
			return false
		}
	}
	return true
}

// api handles one JetStream API request of req.client.
func (g *natsGate) api(req *gateRequest) {
	call, ok := parseAPI(req.rest)
	if !ok {
		g.refuse(req.msg, reasonOp, errOp)
		return
	}
	if call.stream != "" && g.readable(req.client, call.stream) == nil {
		g.refuse(req.msg, reasonStream, errNoStream)
		return
	}
	if call.consumer != "" && g.x.consumerOwner(call.consumer) != req.client {
		if strings.HasSuffix(call.op, "CREATE") {
			g.refuse(req.msg, reasonName, &gateError{Code: 403, ErrCode: 10014, Description: fmt.Sprintf(
				"stadion: consumers of client %s must be named %s-<anything>", req.client, req.client)})
		} else {
			g.refuse(req.msg, reasonConsumer, errNoConsume)
		}
		return
	}
	switch call.op {
	case "INFO":
		g.accountInfo(req)
	case "STREAM.NAMES", "STREAM.LIST":
		g.listStreams(req, call.op == "STREAM.LIST")
	case "CONSUMER.CREATE", "CONSUMER.DURABLE.CREATE":
		g.createConsumer(req, call)
	case "CONSUMER.INFO":
		g.callAndGrant(req, call, nil)
	case "CONSUMER.DELETE":
		resp, err := g.call("$JS.API."+req.rest, nil)
		if err != nil {
			g.refuse(req.msg, reasonEngine, errEngine)
			return
		}
		if !apiFailed(resp) {
			g.eng.RevokeConsumer(req.client, call.stream, call.consumer)
		}
		g.pass(req, resp)
	}
}

// callAndGrant makes the request and, if the engine accepts it, grants
// the consumer to the client before passing the answer on: a client's
// next step is to pull.
func (g *natsGate) callAndGrant(req *gateRequest, call apiCall, body []byte) {
	resp, err := g.call("$JS.API."+req.rest, body)
	if err != nil {
		g.refuse(req.msg, reasonEngine, errEngine)
		return
	}
	if !apiFailed(resp) {
		if err := g.grant(req.client, call.stream, call.consumer); err != nil {
			g.log.Warn("natsgate grant", "client", req.client, "err", err)
			g.refuse(req.msg, reasonEngine, errEngine)
			return
		}
	}
	g.pass(req, resp)
}

// readable returns the topic of stream if client may read it.
func (g *natsGate) readable(client, stream string) *topic {
	name, ok := strings.CutPrefix(stream, streamPrefix)
	if !ok {
		return nil
	}
	t := g.x.topics[name]
	if t == nil || !t.cfg.CanSubscribe(client) {
		return nil
	}
	return t
}

// readableTopics are the topics client may read, sorted by name.
func (g *natsGate) readableTopics(client string) []*topic {
	var out []*topic
	for _, name := range g.x.cfg.TopicNames() {
		if t := g.x.topics[name]; t.cfg.CanSubscribe(client) {
			out = append(out, t)
		}
	}
	return out
}

// createConsumer checks a consumer create or update, counts the client's
// consumers when it is new, and makes it with the client's name stamped in
// its metadata.
func (g *natsGate) createConsumer(req *gateRequest, call apiCall) {
	t := g.readable(req.client, call.stream)
	body, err := checkCreate(req.client, t.name, call, req.msg.Data)
	if err != nil {
		g.refuse(req.msg, reasonConfig, &gateError{Code: 400, Description: "stadion: " + err.Error()})
		return
	}
	lock := g.createLock(req.client)
	lock.Lock()
	defer lock.Unlock()
	ctx, cancel := gateContext()
	_, err = t.stream.Consumer(ctx, call.consumer)
	cancel()
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		n, err := g.countOwned(req.client)
		if err != nil {
			g.refuse(req.msg, reasonEngine, errEngine)
			return
		}
		if n >= g.max {
			g.refuse(req.msg, reasonCap, &gateError{Code: 400, ErrCode: 10026, Description: fmt.Sprintf(
				"maximum consumers limit reached: stadion allows %d per client (exchange.nats_consumers_per_client)", g.max)})
			return
		}
	case err != nil:
		g.refuse(req.msg, reasonEngine, errEngine)
		return
	}
	g.callAndGrant(req, call, body)
}

// checkCreate validates a consumer create request of client on topic and
// returns the request to forward: strict JSON (api.CheckJSON: no
// duplicated member), decoded into the engine's own types and encoded
// again, so the engine reads exactly what was checked (its decoder matches
// field names without regard to case), with the owner stamped.
func checkCreate(client, topicName string, call apiCall, data []byte) ([]byte, error) {
	if err := api.CheckJSON(data); err != nil {
		return nil, fmt.Errorf("the consumer request is not strict JSON: %v", err)
	}
	var req server.CreateConsumerRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, errors.New("malformed consumer request")
	}
	stream := StreamName(topicName)
	if req.Stream != "" && req.Stream != stream {
		return nil, fmt.Errorf("stream_name %q does not match the subject's stream %s", req.Stream, stream)
	}
	req.Stream = stream
	c := &req.Config
	if c.Name != "" && c.Name != call.consumer || c.Durable != "" && c.Durable != call.consumer {
		return nil, fmt.Errorf("the consumer's name must be %s, as in the subject", call.consumer)
	}
	if call.op == "CONSUMER.DURABLE.CREATE" {
		c.Durable = call.consumer
	} else if c.Name == "" && c.Durable == "" {
		c.Name = call.consumer
	}
	if c.DeliverSubject != "" || c.DeliverGroup != "" || c.FlowControl || c.Heartbeat != 0 {
		return nil, errors.New("push consumers (deliver_subject) are not available over plain NATS; create a pull consumer")
	}
	if c.Direct || c.Sourcing {
		return nil, errors.New("direct and sourcing consumers are not available over plain NATS")
	}
	if call.filter != "" && call.filter != c.FilterSubject {
		return nil, errors.New("the filter in the subject must match filter_subject")
	}
	for _, f := range append([]string{c.FilterSubject}, c.FilterSubjects...) {
		if f != "" && !withinTopic(f, topicName) {
			return nil, fmt.Errorf("filter %q is outside %s", f, SubjectFilter(topicName))
		}
	}
	meta := maps.Clone(c.Metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	meta[ownerMeta] = client
	c.Metadata = meta
	return json.Marshal(req)
}

// withinTopic reports whether filter only matches subjects of topicName.
func withinTopic(filter, topicName string) bool {
	toks := strings.Split(filter, ".")
	return len(toks) >= 3 && toks[0]+"." == subjectPrefix && toks[1] == topicName && validSubject(filter)
}

// listStreams answers STREAM.NAMES and STREAM.LIST with the client's
// readable topics only.
func (g *natsGate) listStreams(req *gateRequest, detail bool) {
	var r server.JSApiStreamNamesRequest
	if len(req.msg.Data) > 0 {
		if err := errors.Join(api.CheckJSON(req.msg.Data), json.Unmarshal(req.msg.Data, &r)); err != nil {
			g.refuse(req.msg, reasonMalformed, &gateError{Code: 400, Description: "stadion: malformed request"})
			return
		}
	}
	var topics []*topic
	for _, t := range g.readableTopics(req.client) {
		if r.Subject == "" || server.SubjectsCollide(r.Subject, SubjectFilter(t.name)) {
			topics = append(topics, t)
		}
	}
	total := len(topics)
	topics = topics[min(max(r.Offset, 0), total):]
	paged := server.ApiPaged{Total: total, Offset: r.Offset, Limit: server.JSApiNamesLimit}
	var resp any
	if !detail {
		names := make([]string, len(topics))
		for i, t := range topics {
			names[i] = StreamName(t.name)
		}
		sort.Strings(names)
		resp = server.JSApiStreamNamesResponse{ApiResponse: server.ApiResponse{Type: server.JSApiStreamNamesResponseType}, ApiPaged: paged, Streams: names}
	} else {
		infos := make([]*jetstream.StreamInfo, 0, len(topics))
		for _, t := range topics {
			ctx, cancel := gateContext()
			info, err := t.stream.Info(ctx)
			cancel()
			if err != nil {
				g.refuse(req.msg, reasonEngine, errEngine)
				return
			}
			infos = append(infos, info)
		}
		paged.Limit = server.JSApiListLimit
		resp = struct {
			server.ApiResponse
			server.ApiPaged
			Streams []*jetstream.StreamInfo `json:"streams"`
		}{server.ApiResponse{Type: server.JSApiStreamListResponseType}, paged, infos}
	}
	g.answer(req, resp)
}

// accountInfo answers INFO with the client's own counts: its readable
// streams and its consumers, not the figures of stadion's account.
func (g *natsGate) accountInfo(req *gateRequest) {
	n, err := g.countOwned(req.client)
	if err != nil {
		g.refuse(req.msg, reasonEngine, errEngine)
		return
	}
	g.answer(req, map[string]any{
		"type": server.JSApiAccountInfoResponseType, "memory": 0, "storage": 0,
		"streams": len(g.readableTopics(req.client)), "consumers": n,
		"limits": map[string]any{"max_memory": -1, "max_storage": -1, "max_streams": -1, "max_consumers": g.max},
		"api":    map[string]any{"total": 0, "errors": 0},
	})
}

func (g *natsGate) answer(req *gateRequest, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		g.refuse(req.msg, reasonEngine, errEngine)
		return
	}
	if err := g.nc.Publish(req.msg.Reply, data); err != nil {
		g.log.Warn("natsgate answer", "err", err)
		return
	}
	g.m.forwarded.WithLabelValues(opLabel(req)).Inc()
}

// opLabel is the metric label of a request: its operation.
func opLabel(req *gateRequest) string {
	if c, ok := parseAPI(req.rest); ok {
		return c.op
	}
	return "other"
}
