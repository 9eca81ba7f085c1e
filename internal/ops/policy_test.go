package ops

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRedact(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"secrets at any depth", `{"label":"x","key":"stk_1","nested":{"password":"p","webhook_secret":"s","ok":1},"list":[{"token":"t"}]}`,
			`{"key":"[redacted]","label":"x","list":[{"token":"[redacted]"}],"nested":{"ok":1,"password":"[redacted]","webhook_secret":"[redacted]"}}`},
		{"not JSON", `a=b`, `{"bytes":3,"json":false}`},
		{"empty", ``, ``},
		{"keys of other names stay", `{"keys":["a"],"monkey":1}`, `{"keys":["a"],"monkey":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(redact([]byte(tt.in))); got != tt.want {
				t.Errorf("redact(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestFreezeValidate(t *testing.T) {
	now := time.Date(2026, 2, 4, 19, 0, 0, 0, time.UTC)
	ok := Freeze{Name: "opening", Start: now, End: now.Add(4 * time.Hour), Scope: []string{"all"}}
	tests := []struct {
		name  string
		edit  func(*Freeze)
		field string // "" when valid
	}{
		{"valid", func(*Freeze) {}, ""},
		{"areas and venue", func(f *Freeze) { f.Scope = []string{"sinks", "gate", "venue:bird-nest"} }, ""},
		{"bad name", func(f *Freeze) { f.Name = "Opening!" }, "name"},
		{"no end", func(f *Freeze) { f.End = time.Time{} }, "end"},
		{"end before start", func(f *Freeze) { f.End = now.Add(-time.Minute) }, "end"},
		{"too long", func(f *Freeze) { f.End = now.Add(40 * 24 * time.Hour) }, "end"},
		{"unknown area", func(f *Freeze) { f.Scope = []string{"everything"} }, "scope"},
		{"no scope", func(f *Freeze) { f.Scope = nil }, "scope"},
		{"hold too short", func(f *Freeze) { f.HoldFor = Duration(time.Second) }, "hold_for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := ok
			tt.edit(&f)
			err := f.Validate()
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("valid freeze refused: %v", err)
			case tt.field != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.field+":")):
				t.Errorf("got %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

func TestFreezeCovers(t *testing.T) {
	f := Freeze{Scope: []string{"sinks", "venue:bird-nest"}}
	for _, tt := range []struct {
		area, venue string
		want        bool
	}{{"sinks", "", true}, {"gate", "bird-nest", true}, {"gate", "ice-cube", false}, {"keys", "", false}} {
		if got := f.covers(tt.area, tt.venue); got != tt.want {
			t.Errorf("covers(%q, %q) = %v", tt.area, tt.venue, got)
		}
	}
	if !(Freeze{Scope: []string{"all"}}).covers("keys", "") {
		t.Error("all does not cover keys")
	}
}

func TestVenuesOf(t *testing.T) {
	r, _ := http.NewRequest("POST", "/v1/tickets", nil)
	if v := venuesOf(r, []byte(`{"venue":"bird-nest"}`)); !slices.Equal(v, []string{"bird-nest"}) {
		t.Errorf("body venue: %q", v)
	}
	if v := venuesOf(r, []byte(`{"tickets":[{"venue":"a"},{"venue":"b"},{"venue":"a"}]}`)); !slices.Equal(v, []string{"a", "b"}) {
		t.Errorf("batch venues: %q", v)
	}
	r.SetPathValue("venue", "ice-cube")
	if v := venuesOf(r, nil); !slices.Equal(v, []string{"ice-cube"}) {
		t.Errorf("path venue: %q", v)
	}
}

func TestTableIsConsistent(t *testing.T) {
	for pattern, rule := range Table {
		if rule.Change() && rule.Area == "" {
			t.Errorf("%s changes something but names no area", pattern)
		}
		if rule.Resource != "" && !strings.HasPrefix(rule.Resource, "/v1/") {
			t.Errorf("%s: resource %q is not an API path", pattern, rule.Resource)
		}
		method, _, _ := strings.Cut(pattern, " ")
		if method == "GET" && rule.Class > Read {
			t.Errorf("%s is a GET classified %s", pattern, rule.Class)
		}
	}
	raw, _ := json.Marshal(FreezeAreas())
	for _, want := range []string{"keys", "sinks", "gate", "freezes"} {
		if !strings.Contains(string(raw), `"`+want+`"`) {
			t.Errorf("freeze areas %s lack %s", raw, want)
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 2, 4, 19, 0, 0, 0, time.UTC)
	if got, err := parseSince("1h", now); err != nil || !got.Equal(now.Add(-time.Hour)) {
		t.Errorf("1h: %v %v", got, err)
	}
	if got, err := parseSince("2026-02-04T18:00:00Z", now); err != nil || !got.Equal(now.Add(-time.Hour)) {
		t.Errorf("RFC 3339: %v %v", got, err)
	}
	if _, err := parseSince("yesterday", now); err == nil {
		t.Error("yesterday parsed")
	}
}
