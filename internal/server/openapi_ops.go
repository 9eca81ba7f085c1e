package server

// The operations of the /v1 API, grouped as the capabilities own them. A
// new route needs a line here (openapi_test.go fails until it has one);
// what every operation shares is added by openapi.go.

var (
	limitQ   = param{name: "limit", desc: "most items to return", schema: map[string]any{"type": "integer", "minimum": 1, "maximum": 1000}}
	afterQ   = param{name: "after", desc: "return items after this id", schema: str}
	idsBody  = obj(map[string]any{"ids": arrayOf(integer)})
	jobSpec  = ref("CaptureJob")
	roomBody = obj(map[string]any{"state": map[string]any{"enum": []any{"open", "closed", "slow"}}, "slow": str}, "state")
)

var operations = []op{
	// The index and this document.
	{pattern: "GET /v1", tag: "api", summary: "A short index: name, version and links to the OpenAPI document, the console and the docs", public: true, resp: ref("Index")},
	{pattern: "GET /v1/openapi.json", tag: "api", summary: "This OpenAPI 3.1 document", public: true},

	// Topics (exchange).
	{pattern: "GET /v1/topics", tag: "topics", summary: "Topics the key may read, with counts, bytes and sequence numbers",
		resp: obj(map[string]any{"topics": arrayOf(ref("Topic"))})},
	{pattern: "GET /v1/topics/{topic}", tag: "topics", summary: "One topic with its schema", resp: ref("Topic")},
	{pattern: "GET /v1/topics/{topic}/schema", tag: "topics", summary: "The topic's JSON Schema (draft 2020-12)", respCT: "application/schema+json"},
	{pattern: "POST /v1/topics/{topic}/events", tag: "topics", summary: "Publish an event, or a batch of up to 1,000 (a JSON array), validated against the topic's schema",
		desc:    "Answered only once the events are stored (fsynced by default). A batch is all-or-nothing. Strict JSON (I-JSON) only.",
		headers: []param{{name: "Idempotency-Key", desc: "a retry within the dedupe window returns the original receipt and stores nothing", schema: map[string]any{"type": "string", "maxLength": 200}}},
		body:    map[string]any{}, bodyCT: []string{"application/cloudevents+json", "application/cloudevents-batch+json"},
		status: 202, resp: map[string]any{"oneOf": []any{ref("Receipt"), arrayOf(ref("Receipt"))}}, errs: []int{429}},
	{pattern: "GET /v1/topics/{topic}/events", tag: "topics", summary: "Read stored events by sequence or time",
		query: []param{{name: "after_seq", desc: "events after this sequence", schema: integer}, {name: "since", desc: "events of the last duration (10m) or since an RFC 3339 time", schema: str}, limitQ},
		resp:  obj(map[string]any{"events": arrayOf(ref("CloudEvent"))})},
	{pattern: "GET /v1/topics/{topic}/stream", tag: "topics", summary: "Follow a topic as Server-Sent Events; resumes after Last-Event-ID",
		headers: []param{{name: "Last-Event-ID", desc: "the sequence to resume after", schema: str}}, respCT: "text/event-stream", resp: str, errs: []int{429}},
	{pattern: "GET /v1/topics/{topic}/snapshot", tag: "topics", summary: "A sync topic's latest event per key, and the sequence to follow from",
		resp: obj(map[string]any{"topic": str, "seq": integer, "events": arrayOf(ref("CloudEvent"))}), errs: []int{429}},

	// Subscriptions (exchange).
	{pattern: "GET /v1/subscriptions", tag: "subscriptions", summary: "The key's client's subscriptions", resp: obj(map[string]any{"subscriptions": arrayOf(ref("Subscription"))})},
	{pattern: "PUT /v1/subscriptions/{name}", tag: "subscriptions", summary: "Create or update a durable subscription (pull, or a webhook with push)",
		body: ref("SubscriptionRequest"), resp: ref("Subscription"), errs: []int{409}},
	{pattern: "GET /v1/subscriptions/{name}", tag: "subscriptions", summary: "A subscription with its pending and in-flight counts", resp: ref("Subscription")},
	{pattern: "DELETE /v1/subscriptions/{name}", tag: "subscriptions", summary: "Delete a subscription and its dead letters", status: 204},
	{pattern: "POST /v1/subscriptions/{name}/pull", tag: "subscriptions", summary: "Take up to max events, waiting up to wait for the first",
		body: obj(map[string]any{"max": map[string]any{"type": "integer", "minimum": 1}, "wait": str}),
		resp: obj(map[string]any{"events": arrayOf(obj(map[string]any{"ack_id": str, "delivery": integer, "event": ref("CloudEvent")}))}), errs: []int{409, 429}},
	{pattern: "POST /v1/subscriptions/{name}/ack", tag: "subscriptions", summary: "Acknowledge pulled events",
		body: obj(map[string]any{"ack_ids": arrayOf(str)}, "ack_ids")},
	{pattern: "POST /v1/subscriptions/{name}/nack", tag: "subscriptions", summary: "Hand pulled events back, after delay, with the error kept as their last",
		body: obj(map[string]any{"ack_ids": arrayOf(str), "delay": str, "error": str}, "ack_ids")},
	{pattern: "GET /v1/subscriptions/{name}/dead-letters", tag: "subscriptions", summary: "Events out of attempts",
		query: []param{afterQ, limitQ}, resp: obj(map[string]any{"dead_letters": arrayOf(ref("DeadLetter"))})},
	{pattern: "POST /v1/subscriptions/{name}/dead-letters/redrive", tag: "subscriptions", summary: "Deliver dead letters (all, or ids) to this subscription again", body: idsBody},
	{pattern: "DELETE /v1/subscriptions/{name}/dead-letters", tag: "subscriptions", summary: "Discard dead letters (all, or ids)", body: idsBody},

	// Sinks (delivery).
	{pattern: "GET /v1/sinks", tag: "sinks", summary: "Every database sink: state, rows, rows/s, lag, dead letters, last error", resp: obj(map[string]any{"sinks": arrayOf(ref("Sink"))})},
	{pattern: "GET /v1/sinks/{name}", tag: "sinks", summary: "One sink", resp: ref("Sink")},
	{pattern: "POST /v1/sinks/{name}/pause", tag: "sinks", summary: "Pause the sink on every replica", resp: ref("Sink")},
	{pattern: "POST /v1/sinks/{name}/resume", tag: "sinks", summary: "Resume the sink on every replica", resp: ref("Sink")},
	{pattern: "GET /v1/sinks/{name}/dead-letters", tag: "sinks", summary: "Events the database rejected",
		query: []param{{name: "after", desc: "dead letters after this id", schema: integer}, limitQ}, resp: obj(map[string]any{"dead_letters": arrayOf(ref("DeadLetter"))})},
	{pattern: "POST /v1/sinks/{name}/dead-letters/redrive", tag: "sinks", summary: "Write dead letters (all, or ids) into the table again", body: idsBody,
		resp: obj(map[string]any{"redriven": integer, "failed": arrayOf(obj(map[string]any{"id": integer, "error": str}))})},
	{pattern: "DELETE /v1/sinks/{name}/dead-letters", tag: "sinks", summary: "Delete dead letters (all, or ids)", body: idsBody, resp: obj(map[string]any{"deleted": integer})},

	// Keys.
	{pattern: "POST /v1/clients/{client}/keys", tag: "keys", summary: "Create a key for a client (admin); the key is shown once", status: 201,
		resp: obj(map[string]any{"id": str, "client": str, "key": str, "created": str})},
	{pattern: "GET /v1/clients/{client}/keys", tag: "keys", summary: "A client's keys, without their secrets (admin)",
		resp: obj(map[string]any{"keys": arrayOf(obj(map[string]any{"id": str, "client": str, "created": str}))})},
	{pattern: "DELETE /v1/clients/{client}/keys/{id}", tag: "keys", summary: "Revoke a key: it stops working everywhere within a second (admin)", status: 204},

	// Live comments.
	{pattern: "POST /v1/live/tokens", tag: "live", summary: "Issue a viewer token for MQTT (live-issuer role)",
		body: obj(map[string]any{"user": str, "name": str}, "user"), resp: obj(map[string]any{"token": str, "expires": str})},
	{pattern: "POST /v1/live/revocations", tag: "live", summary: "End every token issued to a user so far and close their connections (live-issuer role)",
		body: obj(map[string]any{"user": str}, "user"), resp: obj(map[string]any{"user": str, "revoked_at": str, "until": str})},
	{pattern: "GET /v1/live/{room}", tag: "live", summary: "A room's state, viewers, comments/s and rejections by reason"},
	{pattern: "PUT /v1/live/{room}", tag: "live", summary: "Open or close a room, or put it in slow mode (live-moderator role)", body: roomBody},
	{pattern: "GET /v1/live/{room}/comments", tag: "live", summary: "A room's recent comments, for late joiners",
		query: []param{afterQ, limitQ}, resp: obj(map[string]any{"comments": arrayOf(anyObj)})},
	{pattern: "POST /v1/live/{room}/comments", tag: "live", summary: "Post a comment as a key (moderated like MQTT comments)",
		body: obj(map[string]any{"text": str}, "text"), status: 202, errs: []int{409, 422, 429}},
	{pattern: "PUT /v1/live/{room}/pinned", tag: "live", summary: "Set the room's pinned (retained) message, a JSON document", body: anyObj, status: 204},
	{pattern: "DELETE /v1/live/{room}/pinned", tag: "live", summary: "Remove the room's pinned message", status: 204},
	{pattern: "GET /v1/live/{room}/pinned", tag: "live", summary: "The room's pinned (retained) message (404 when none)", resp: anyObj},

	// Venues and tickets (gate).
	{pattern: "GET /v1/venues", tag: "venues", summary: "The cloud's view of every venue: link, config version, counts, backlog", resp: obj(map[string]any{"venues": arrayOf(ref("Venue"))})},
	{pattern: "GET /v1/venues/{venue}", tag: "venues", summary: "The cloud's view of one venue", resp: ref("Venue")},
	{pattern: "GET /v1/venues/{venue}/status", tag: "venues", summary: "The edge's own status, fetched over its outbound link (503 while no edge is linked)"},
	{pattern: "GET /v1/venues/{venue}/logs", tag: "venues", summary: "The edge's log lines, fetched over its outbound link",
		query: []param{{name: "since", desc: "how far back (10m)", schema: str}, {name: "after", desc: "lines after this number", schema: integer}}},
	{pattern: "GET /v1/venues/{venue}/anomalies", tag: "venues", summary: "The edge's own log-template anomaly classes, fetched over its outbound link (admin)",
		resp: obj(map[string]any{"site": str, "classes": arrayOf(anyObj)})},
	{pattern: "POST /v1/venues/{venue}/credentials", tag: "venues", summary: "Issue the venue edge's credentials (admin); older ones stop working", status: 201},
	{pattern: "DELETE /v1/venues/{venue}/credentials", tag: "venues", summary: "Revoke the venue edge's credentials: its links close within a second (admin)", status: 204},
	{pattern: "POST /v1/tickets", tag: "tickets", summary: "Issue signed tickets (ticketing role)", body: map[string]any{"oneOf": []any{anyObj, arrayOf(anyObj)}}, status: 201},
	{pattern: "GET /v1/tickets/{id}", tag: "tickets", summary: "A ticket's record", resp: ref("Ticket")},
	{pattern: "POST /v1/tickets/{id}/revoke", tag: "tickets", summary: "Revoke a ticket at every venue", resp: ref("Ticket")},
	{pattern: "GET /v1/tickets/keys", tag: "tickets", summary: "The ticket signing keys (public halves)"},
	{pattern: "POST /v1/tickets/keys/rotate", tag: "tickets", summary: "Start signing with a new key; the old one still verifies", status: 201},
	{pattern: "POST /v1/tickets/keys/{kid}/retire", tag: "tickets", summary: "Stop accepting tickets signed with a key"},

	// Frame capture.
	{pattern: "GET /v1/capture/jobs", tag: "capture", summary: "Every capture job: last success, last error, captures/min, latency", resp: obj(map[string]any{"jobs": arrayOf(ref("CaptureJobStatus"))})},
	{pattern: "GET /v1/capture/jobs/{job}", tag: "capture", summary: "One capture job", resp: ref("CaptureJobStatus")},
	{pattern: "PUT /v1/capture/jobs/{job}", tag: "capture", summary: "Add or replace a job at run time (capture role); its source must be in capture.allow", body: jobSpec, errs: []int{409}},
	{pattern: "DELETE /v1/capture/jobs/{job}", tag: "capture", summary: "Delete a job added at run time, with its frames", status: 204, errs: []int{409}},
	{pattern: "POST /v1/capture/jobs/{job}/trigger", tag: "capture", summary: "Capture a frame now", status: 202, resp: obj(map[string]any{"job": str, "tick": str})},
	{pattern: "GET /v1/capture/jobs/{job}/frames", tag: "capture", summary: "Stored frames with their URLs",
		query: []param{{name: "since", desc: "frames captured since this RFC 3339 time", schema: str}, limitQ}, resp: obj(map[string]any{"job": str, "frames": arrayOf(anyObj)})},
	{pattern: "GET /v1/capture/jobs/{job}/frames/{id}/{file}", tag: "capture", summary: "One stored image", respCT: "image/*", resp: map[string]any{"type": "string", "contentMediaType": "image/jpeg"}},
	{pattern: "GET /v1/capture/jobs/{job}/latest", tag: "capture", summary: "The newest image of a job",
		query: []param{{name: "size", desc: "one of the job's sizes (default: its first)", schema: str}}, respCT: "image/*", resp: map[string]any{"type": "string", "contentMediaType": "image/jpeg"}},

	// Operations.
	{pattern: "GET /v1/health", tag: "ops", summary: "Health scores and grades of the cloud, each venue and component; risks by impact; alerts firing",
		query: []param{{name: "fresh", desc: "1: score now instead of the last computed report", schema: map[string]any{"enum": []any{"1"}}}}},
	{pattern: "GET /v1/slos", tag: "ops", summary: "SLOs with their error budgets and burn rates"},
	{pattern: "GET /v1/alerts", tag: "ops", summary: "Alerts firing and recently resolved, each saying where to look"},
	{pattern: "GET /v1/anomalies", tag: "ops", summary: "Log-template anomaly classes"},
	{pattern: "POST /v1/inspections", tag: "ops", summary: "Run the daily inspection now (admin)", status: 201},
	{pattern: "GET /v1/inspections", tag: "ops", summary: "The inspections kept (the last 30)"},
	{pattern: "GET /v1/inspections/{id}", tag: "ops", summary: "One inspection report, as JSON or a self-contained HTML page",
		query: []param{{name: "format", desc: "json (default) or html", schema: map[string]any{"enum": []any{"json", "html"}}}}},
	{pattern: "GET /v1/cluster", tag: "ops", summary: "The engine's cluster: nodes, leaders, replicas and placement"},

	// Runtime limits and emergency plans (limits).
	{pattern: "GET /v1/limits", tag: "limits", summary: "Every runtime limit (admin); with counts=true every process's matched, limited and shadow-limited counts summed",
		query: []param{{name: "counts", desc: "true: add the counts", schema: map[string]any{"enum": []any{"true", "false"}}}}},
	{pattern: "GET /v1/limits/{name}", tag: "limits", summary: "One runtime limit (admin)", resp: ref("Limit")},
	{pattern: "PUT /v1/limits/{name}", tag: "limits", summary: "Set a runtime limit: it applies on every replica within a second (admin)",
		desc: "A limit matches requests (client, key id, User-Agent pattern, source network, route, MQTT user or anonymous, venue) and either rate-limits them (token bucket), caps them in progress, or only counts them (shadow). Enforced refusals answer 429 with Retry-After naming the limit.",
		body: ref("Limit"), resp: ref("Limit"), errs: []int{409}},
	{pattern: "DELETE /v1/limits/{name}", tag: "limits", summary: "Remove a runtime limit everywhere (admin)", status: 204},
	{pattern: "GET /v1/plans", tag: "limits", summary: "The emergency plans of stadion.yaml and whether each is applied (admin)"},
	{pattern: "GET /v1/plans/{name}", tag: "limits", summary: "One emergency plan, its limits and its recent applications (admin)"},
	{pattern: "POST /v1/plans/{name}/apply", tag: "limits", summary: "Apply an emergency plan's limits; with dry_run=true only show what would change and how many recent requests each limit would have refused",
		query: []param{{name: "dry_run", desc: "true: change nothing", schema: map[string]any{"enum": []any{"true", "false"}}}}},
	{pattern: "POST /v1/plans/{name}/revert", tag: "limits", summary: "Remove an emergency plan's limits"},

	// Roles, freezes, approvals and the audit trail (ops' request policy).
	{pattern: "POST /v1/clients/admin/keys/reissue", tag: "keys", summary: "Revoke every admin key of a role and make one new key per named person (admin)",
		body: obj(map[string]any{"role": map[string]any{"enum": []any{"viewer", "operator", "admin"}}, "to": arrayOf(str)}, "role", "to")},
	{pattern: "GET /v1/freezes", tag: "freezes", summary: "Change freezes: name, window, scope, who set them"},
	{pattern: "GET /v1/freezes/{name}", tag: "freezes", summary: "One change freeze"},
	{pattern: "PUT /v1/freezes/{name}", tag: "freezes", summary: "Set a change freeze: changes in its scope and window wait for a second person's approval (admin)",
		body: obj(map[string]any{"start": str, "end": str, "scope": arrayOf(str), "reason": str, "hold_for": str}, "start", "end")},
	{pattern: "DELETE /v1/freezes/{name}", tag: "freezes", summary: "Remove a change freeze (admin; held under any open freeze)", status: 204},
	{pattern: "GET /v1/approvals", tag: "freezes", summary: "Changes held under a freeze, waiting for approval"},
	{pattern: "GET /v1/approvals/{id}", tag: "freezes", summary: "One held change"},
	{pattern: "POST /v1/approvals/{id}/approve", tag: "freezes", summary: "Approve a held change: it runs as its requester; the approver must be another person"},
	{pattern: "POST /v1/approvals/{id}/reject", tag: "freezes", summary: "Reject a held change"},
	{pattern: "GET /v1/audit", tag: "audit", summary: "The audit trail: who changed what, when, before and after",
		query: []param{{name: "since", desc: "entries of the last duration (1h) or since an RFC 3339 time", schema: str}, {name: "after_seq", desc: "entries after this sequence", schema: integer}, limitQ,
			{name: "wait", desc: "wait up to this long for a new entry (following)", schema: str}}},

	// The console's data (the page itself is served at /).
	{pattern: "GET /v1/console", tag: "console", summary: "Who signed in, and which of the console's views the key may open"},
	{pattern: "GET /v1/console/series", tag: "console", summary: "The last hour of rates and lags (one point per 5 s) that the key may see"},
	{pattern: "GET /v1/console/feed", tag: "console", summary: "Each new sample of the series as a JSON line, streamed (counts against exchange.streams_per_client)",
		respCT: "application/x-ndjson", resp: str, errs: []int{429}},
}

// schemas are the shared component schemas.
var schemas = map[string]any{
	"Problem": map[string]any{
		"type":        "object",
		"description": "RFC 9457 problem details.",
		"properties": map[string]any{
			"type": str, "title": str, "status": integer, "detail": str, "instance": str,
			"errors": arrayOf(obj(map[string]any{"pointer": map[string]any{"type": "string", "description": "JSON pointer into the request body"}, "message": str})),
		},
		"required": []any{"title", "status"},
	},
	"Limit": map[string]any{
		"type": "object", "description": "A runtime limit (README: Stopping a misbehaving client).",
		"properties": map[string]any{
			"match": obj(map[string]any{"client": str, "key_id": str, "user_agent": str, "source": str, "route": str, "mqtt_user": str, "anonymous": map[string]any{"type": "boolean"}, "venue": str}),
			"rate":  str, "burst": integer, "concurrency": integer, "per": str,
			"action": map[string]any{"enum": []any{"enforce", "shadow"}}, "scope": map[string]any{"enum": []any{"process", "cluster"}},
			"replaces": arrayOf(str), "ttl": str, "expires": str, "description": str,
		},
	},
	"Index": obj(map[string]any{"name": str, "version": str, "links": map[string]any{"type": "object", "additionalProperties": str}}, "name", "version", "links"),
	"Receipt": obj(map[string]any{"id": str, "topic": str, "seq": integer,
		"duplicate": map[string]any{"type": "boolean", "description": "true when the event was already stored (same Idempotency-Key or CloudEvent id within the dedupe window)"}}, "id", "topic", "seq"),
	"CloudEvent": obj(map[string]any{"specversion": str, "id": str, "source": str, "type": str, "time": str, "subject": str, "data": map[string]any{}}, "specversion", "id", "source", "type"),
	"Topic": obj(map[string]any{"name": str, "kind": map[string]any{"enum": []any{"realtime", "sync"}}, "key": str, "events": integer, "bytes": integer,
		"first_seq": integer, "last_seq": integer, "last_time": str, "retention": str, "publishers": arrayOf(str), "subscribers": arrayOf(str), "schema_id": str, "schema": anyObj}, "name", "kind"),
	"SubscriptionRequest": obj(map[string]any{
		"topic": str, "start": map[string]any{"type": "string", "description": "earliest, latest, seq:N or time:RFC3339"},
		"ack_wait": str,
		"retry":    obj(map[string]any{"schedule": arrayOf(str), "max_attempts": integer}),
		"push":     obj(map[string]any{"url": str, "secret": str, "timeout": str, "max_in_flight": integer, "ordered_by_key": boolean}, "url"),
	}, "topic"),
	"Subscription": obj(map[string]any{"name": str, "topic": str, "start": str, "ack_wait": str, "owner": str, "created": str,
		"pending": integer, "ack_pending": integer, "redelivered": integer, "waiting_pull": integer, "ack_floor_seq": integer}),
	"DeadLetter": obj(map[string]any{"id": integer, "seq": integer, "event_id": str, "event": ref("CloudEvent"), "error": str, "attempts": integer}),
	"Sink": obj(map[string]any{"name": str, "topic": str, "database": str, "table": str, "state": map[string]any{"enum": []any{"running", "paused"}},
		"rows":         map[string]any{"type": "integer", "minimum": 0, "description": "rows the table holds; absent when the database did not answer within 2 s"},
		"rows_per_sec": map[string]any{"type": "number"}, "lag": integer,
		"rows_written": map[string]any{"type": "integer", "minimum": 0, "description": "rows written by the answering process since it started"},
		"last_error":   str, "last_error_at": str, "dead_letters": integer}, "name", "topic", "state"),
	"Venue": obj(map[string]any{"venue": str, "link": map[string]any{"enum": []any{"up", "down", "never"}}, "last_contact": str,
		"config_version": integer, "config_version_applied": integer, "admitted": integer, "rejected": integer, "received": integer, "scans": integer, "backlog": integer, "last_scan": str}, "venue", "link"),
	"Ticket":           anyObj,
	"CaptureJob":       obj(map[string]any{"source": str, "every": str, "cron": str, "sizes": arrayOf(str), "format": str, "keyframes_only": boolean, "avoid_blank": boolean}, "source"),
	"CaptureJobStatus": obj(map[string]any{"name": str, "origin": str, "spec": ref("CaptureJob"), "captures": integer, "failures": integer, "last_success": str, "last_error": str, "last_error_at": str}),
}
