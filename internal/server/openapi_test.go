package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// startBundled runs the server in-process with the bundled Games example,
// which turns every capability on (exchange, sinks, live, venues, capture,
// SLOs and alerts), so that every route is registered.
func startBundled(t *testing.T) *Server {
	t.Helper()
	s, err := StartServer(t.Context(), ServerOptions{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0",
		MQTTAddr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// TestOpenAPIMatchesRoutes: every /v1 route of a server with every
// capability on has exactly one operation in the document, and every
// operation a route; the document is valid OpenAPI 3.1 and served without
// a key.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := startBundled(t)
	resp, raw := get(t, s.HTTPURL+"/v1/openapi.json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/openapi.json without a key: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths {
		for method := range item {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	var routed []string
	for _, p := range s.Routes() {
		if _, path, ok := strings.Cut(p, " "); ok && (path == "/v1" || strings.HasPrefix(path, "/v1/")) {
			routed = append(routed, p)
		}
	}
	for _, r := range routed {
		if !slices.Contains(documented, r) {
			t.Errorf("route %q has no operation in the OpenAPI document (add it to internal/server/openapi_ops.go)", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routed, d) {
			t.Errorf("operation %q has no route", d)
		}
	}
	seen := map[string]bool{}
	for _, o := range operations {
		if seen[o.pattern] {
			t.Errorf("operation %q is listed twice", o.pattern)
		}
		seen[o.pattern] = true
	}
	validateOpenAPI(t, raw)
}

// validateOpenAPI checks the document against the OpenAPI 3.1 meta-schema
// (testdata/openapi-3.1, with the schema dialect, so schema objects are
// checked too) and that every $ref resolves.
func validateOpenAPI(t *testing.T, raw []byte) {
	t.Helper()
	c := jsonschema.NewCompiler()
	for file, id := range map[string]string{
		"schema.json":       "https://spec.openapis.org/oas/3.1/schema/2021-04-15",
		"schema-base.json":  "https://spec.openapis.org/oas/3.1/schema-base/2021-04-15",
		"meta-base.json":    "https://spec.openapis.org/oas/3.1/meta/base",
		"dialect-base.json": "https://spec.openapis.org/oas/3.1/dialect/base",
	} {
		f, err := os.ReadFile(filepath.Join("testdata", "openapi-3.1", file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(f))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
	}
	sch, err := c.Compile("https://spec.openapis.org/oas/3.1/schema-base/2021-04-15")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("not a valid OpenAPI 3.1 document: %v", err)
	}
	var all map[string]any
	_ = json.Unmarshal(raw, &all)
	// Every schema in the document (components and inline) compiles as
	// JSON Schema draft 2020-12, OpenAPI 3.1's dialect: the compiler checks
	// it against the draft's meta-schema.
	sc := jsonschema.NewCompiler()
	sc.DefaultDraft(jsonschema.Draft2020)
	if err := sc.AddResource("https://stadion.invalid/openapi.json", inst); err != nil {
		t.Fatal(err)
	}
	var pointers []string
	var schemasIn func(v any, ptr string)
	schemasIn = func(v any, ptr string) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				p := ptr + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
				if k == "schema" || ptr == "/components/schemas" {
					pointers = append(pointers, p)
					continue
				}
				schemasIn(c, p)
			}
		case []any:
			for i, c := range x {
				schemasIn(c, ptr+"/"+itoa(i))
			}
		}
	}
	schemasIn(all, "")
	if len(pointers) < 50 {
		t.Fatalf("found only %d schemas in the document", len(pointers))
	}
	for _, p := range pointers {
		if _, err := sc.Compile("https://stadion.invalid/openapi.json#" + p); err != nil {
			t.Errorf("schema at %s: %v", p, err)
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				target := any(all)
				for _, part := range strings.Split(strings.TrimPrefix(r, "#/"), "/") {
					m, _ := target.(map[string]any)
					target = m[part]
				}
				if target == nil {
					t.Errorf("$ref %q resolves to nothing", r)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(all)
}

// TestAPIIndex: GET /v1 answers a short index without a key, where it
// answered "no route for GET /v1".
func TestAPIIndex(t *testing.T) {
	s := startBundled(t)
	resp, raw := get(t, s.HTTPURL+"/v1")
	var idx apiIndex
	if resp.StatusCode != 200 || json.Unmarshal(raw, &idx) != nil || idx.Name != "stadion" || idx.Version == "" ||
		idx.Links["openapi"] != "/v1/openapi.json" || idx.Links["console"] != "/" {
		t.Fatalf("GET /v1: %d %s", resp.StatusCode, raw)
	}
	// The rest of /v1 still needs a key.
	if resp, _ := get(t, s.HTTPURL+"/v1/topics"); resp.StatusCode != 401 {
		t.Errorf("GET /v1/topics without a key: %d, want 401", resp.StatusCode)
	}
}
