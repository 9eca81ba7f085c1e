package server

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

// The OpenAPI 3.1 description of the /v1 API is built from the table in
// openapi_ops.go: one op per route pattern, written by hand next to its
// neighbours, with what every operation shares (path parameters from the
// pattern, bearer security, problem+json errors) filled in here. The
// document is built once, in the binary, and served without a key at
// GET /v1/openapi.json; openapi_test.go starts a server with every
// capability on and fails when a /v1 route has no op, or an op no route.

// op describes one operation.
type op struct {
	pattern string // the route's pattern, e.g. "GET /v1/topics/{topic}"
	tag     string
	summary string
	desc    string
	public  bool     // no key needed
	query   []param  // query parameters
	headers []param  // request headers
	body    any      // request body schema (application/json), nil: none
	bodyCT  []string // other request content types with the same schema
	status  int      // success status (200 when 0)
	resp    any      // success response schema; nil: no body (204) or generic object
	respCT  string   // success content type (application/json when "")
	errs    []int    // error statuses besides the ones every op shares
}

type param struct {
	name, desc string
	schema     any
	required   bool
}

// Schema shorthands for the table.
var (
	str     = map[string]any{"type": "string"}
	integer = map[string]any{"type": "integer", "minimum": 0}
	boolean = map[string]any{"type": "boolean"}
	anyObj  = map[string]any{"type": "object"}
)

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

func arrayOf(items any) map[string]any { return map[string]any{"type": "array", "items": items} }

// obj is an object schema with the given properties, required ones listed.
func obj(props map[string]any, required ...string) map[string]any {
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

var pathParam = regexp.MustCompile(`\{([^}.]+)(\.\.\.)?\}`)

// openAPIDoc builds the document.
func openAPIDoc() map[string]any {
	paths := map[string]any{}
	for _, o := range operations {
		method, path, _ := strings.Cut(o.pattern, " ")
		item, _ := paths[path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}
		item[strings.ToLower(method)] = o.operation(path)
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "stadion API",
			"version": cmdio.BuildInfo().Short(),
			"description": "The HTTP API of `stadion up`: the data exchange (topics, subscriptions), " +
				"database sinks, live comments, venues and tickets, frame capture and operations. " +
				"Authenticate with an API key as a bearer token (`stadion keys create CLIENT`, or the admin key in <data>/admin.key). " +
				"Errors are RFC 9457 problem+json. A venue edge (`stadion edge`) serves its own small API (POST /v1/scan, /v1/devices/{device}/keys, GET /v1/status), not described here.",
		},
		"servers":  []any{map[string]any{"url": "/", "description": "the stadion server that serves this document"}},
		"security": []any{map[string]any{"bearer": []any{}}},
		"tags":     tags(),
		"paths":    paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{
				"type": "http", "scheme": "bearer",
				"description": "An API key: the admin key, or a client's key from `stadion keys create CLIENT`. What a key may do is its client's rights in stadion.yaml.",
			}},
			"schemas":   schemas,
			"responses": problemResponses(),
		},
	}
}

func tags() []any {
	var out []any
	seen := map[string]bool{}
	for _, o := range operations {
		if !seen[o.tag] {
			seen[o.tag] = true
			out = append(out, map[string]any{"name": o.tag})
		}
	}
	return out
}

// operation renders one op as an OpenAPI Operation Object.
func (o op) operation(path string) map[string]any {
	method, _, _ := strings.Cut(o.pattern, " ")
	out := map[string]any{
		"operationId": operationID(o.pattern),
		"tags":        []any{o.tag},
		"summary":     o.summary,
	}
	if o.desc != "" {
		out["description"] = o.desc
	}
	if o.public {
		out["security"] = []any{}
	}
	var params []any
	for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": str})
	}
	for _, p := range o.query {
		params = append(params, p.render("query"))
	}
	for _, p := range o.headers {
		params = append(params, p.render("header"))
	}
	if len(params) > 0 {
		out["parameters"] = params
	}
	if o.body != nil {
		content := map[string]any{"application/json": map[string]any{"schema": o.body}}
		for _, ct := range o.bodyCT {
			content[ct] = map[string]any{"schema": o.body}
		}
		out["requestBody"] = map[string]any{"required": method != "DELETE", "content": content}
	}
	out["responses"] = o.responses()
	return out
}

func (p param) render(in string) map[string]any {
	m := map[string]any{"name": p.name, "in": in, "schema": p.schema}
	if p.desc != "" {
		m["description"] = p.desc
	}
	if p.required {
		m["required"] = true
	}
	return m
}

func (o op) responses() map[string]any {
	status := o.status
	if status == 0 {
		status = http.StatusOK
	}
	ok := map[string]any{"description": http.StatusText(status)}
	if status != http.StatusNoContent {
		ct, schema := o.respCT, o.resp
		if ct == "" {
			ct = "application/json"
		}
		if schema == nil {
			schema = anyObj
		}
		ok["content"] = map[string]any{ct: map[string]any{"schema": schema}}
	}
	out := map[string]any{itoa(status): ok}
	errs := append([]int{}, o.errs...)
	if !o.public {
		errs = append(errs, http.StatusUnauthorized, http.StatusForbidden)
	}
	if strings.Contains(o.pattern, "{") {
		errs = append(errs, http.StatusNotFound)
	}
	if o.body != nil || len(o.query) > 0 || len(o.headers) > 0 {
		errs = append(errs, http.StatusBadRequest)
	}
	if o.body != nil {
		errs = append(errs, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
	}
	errs = append(errs, http.StatusServiceUnavailable)
	for _, e := range errs {
		out[itoa(e)] = map[string]any{"$ref": "#/components/responses/" + itoa(e)}
	}
	return out
}

// problemStatuses are the error answers an op may list.
var problemStatuses = []int{400, 401, 403, 404, 409, 413, 415, 422, 429, 503}

func problemResponses() map[string]any {
	out := map[string]any{}
	for _, s := range problemStatuses {
		out[itoa(s)] = map[string]any{
			"description": http.StatusText(s) + " (RFC 9457 problem details naming what was wrong and where)",
			"content":     map[string]any{"application/problem+json": map[string]any{"schema": ref("Problem")}},
		}
	}
	return out
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// operationID is "get_v1_topics_topic_events" for "GET /v1/topics/{topic}/events".
func operationID(pattern string) string {
	r := strings.NewReplacer(" /", "_", "/", "_", "{", "", "}", "", "-", "_", ".", "", "$", "")
	return strings.ToLower(r.Replace(pattern))
}

// openAPIJSON is the document, built once.
var openAPIJSON = sync.OnceValue(func() []byte {
	raw, err := json.MarshalIndent(openAPIDoc(), "", "  ")
	if err != nil {
		panic(err) // the document is built from literals
	}
	return raw
})

// apiIndexRoutes serves GET /v1 (a short index) and GET /v1/openapi.json,
// both without a key: they describe the API, they reveal no data.
func apiIndexRoutes(mux *api.Mux) {
	mux.HandleFunc("GET /v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(openAPIJSON())
	})
	mux.HandleFunc("GET /v1", func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, apiIndex{
			Name:    "stadion",
			Version: cmdio.BuildInfo().Short(),
			Links: map[string]string{
				"openapi": "/v1/openapi.json",
				"console": "/",
				"health":  "/healthz",
				"ready":   "/readyz",
				"metrics": "/metrics",
				"docs":    "https://github.com/stadion-dev/stadion#readme",
			},
		})
	})
}

// apiIndex is what GET /v1 answers.
type apiIndex struct {
	Name    string            `json:"name"`
	Version string            `json:"version"`
	Links   map[string]string `json:"links"`
}
