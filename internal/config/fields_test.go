package config

import (
	"strings"
	"testing"
	"testing/fstest"
)

// TestUnknownFieldsEverySection checks that a misspelt key in any section
// is reported with the file, the line, the section and the nearest valid
// name, never with Go type names.
func TestUnknownFieldsEverySection(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"top level", "# the games\n\ndurabilty: always\n", `stadion.yaml:3: unknown field "durabilty"; did you mean "durability"?`},
		{"exchange", "exchange:\n  max_bdy: 1MiB\n", `stadion.yaml:2: unknown field "max_bdy" in exchange; did you mean "max_body"?`},
		{"swapped letters", "exchange:\n  dedpue_window: 1m\n", `did you mean "dedupe_window"?`},
		{"inside a map of structs", "topics:\n  a:\n    retetnion: 1d\n", `stadion.yaml:3: unknown field "retetnion" in topics.a; did you mean "retention"?`},
		{"inline struct", "venues:\n  bn:\n    gates: [a]\n    scna_window: 1m\n", `in venues.bn`},
		{"live", "live:\n  rooms: [a]\n  mqtt: {max_conections: 5}\n", `stadion.yaml:3: unknown field "max_conections" in live.mqtt; did you mean "max_connections"?`},
		{"no near name lists the valid ones", "exchange:\n  zzzzzzzz: 1\n", `unknown field "zzzzzzzz" in exchange; valid fields: dedupe_window, max_body,`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{"stadion.yaml": {Data: []byte(tc.yaml)}}
			_, err := Load(fsys, "stadion.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "config.") {
				t.Errorf("error %q names a Go type", err)
			}
		})
	}
}

func TestUnknownFieldsAllReported(t *testing.T) {
	_, err := Parse([]byte("durabilty: fast\nexchange: {max_bdy: 1MiB}\n"), testFS, ".")
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{`line 1: unknown field "durabilty"`, `line 2: unknown field "max_bdy" in exchange`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestValidationErrorsNameTheLine(t *testing.T) {
	fsys := fstest.MapFS{"stadion.yaml": {Data: []byte("exchange:\n  max_body: 100B\n")}}
	_, err := Load(fsys, "stadion.yaml")
	if want := "stadion.yaml:2: exchange.max_body: must be at least 1KiB"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"durabilty", "durability", 1}, {"ab", "ba", 1}, {"", "abc", 3}, {"kitten", "sitting", 3}, {"same", "same", 0}} {
		if got := editDistance(tc.a, tc.b); got != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}

// TestLiveWithoutRooms: a live section that sets anything but names no
// rooms is an error naming live.rooms, never live comments silently off.
func TestLiveWithoutRooms(t *testing.T) {
	for _, y := range []string{"live:\n  banned_words: [boo]\n", "live: {rooms: []}\n"} {
		fsys := fstest.MapFS{"stadion.yaml": {Data: []byte(y)}}
		_, err := Load(fsys, "stadion.yaml")
		if err == nil || !strings.Contains(err.Error(), "stadion.yaml:1: live.rooms: required when the live section is set") {
			t.Errorf("%q: error %v, want live.rooms required", y, err)
		}
	}
	for _, y := range []string{"", "live:\n", "live: {}\n"} {
		c, err := Parse([]byte(y), testFS, ".")
		if err != nil || c.Live.Enabled() {
			t.Errorf("%q: %v, enabled %v; want live off without error", y, err, c != nil && c.Live.Enabled())
		}
	}
	c, err := Parse([]byte("live: {rooms: [\"*\"], banned_words: [boo]}\n"), testFS, ".")
	if err != nil || !c.Live.Enabled() || !c.Live.AnyRoom() {
		t.Errorf("rooms [*]: %v", err)
	}
}
