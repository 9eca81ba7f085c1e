package capture

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParsePlaylist(t *testing.T) {
	for _, c := range []struct {
		name, in, fingerprint, variant string
		ended                          bool
		err                            string
	}{
		{"live", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:1.0,\nindex7.ts\n#EXTINF:1.0,\nindex8.ts\n", "7|index8.ts", "", false, ""},
		{"vod", "#EXTM3U\n#EXTINF:1.0,\na.ts\n#EXT-X-ENDLIST\n", "|a.ts", "", true, ""},
		{"master", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow/index.m3u8\n", "|low/index.m3u8", "low/index.m3u8", false, ""},
		{"html", "<html>", "", "", false, "no #EXTM3U"},
		{"empty", "", "", "", false, "empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pl, err := parsePlaylist(strings.NewReader(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || pl.fingerprint != c.fingerprint || pl.ended != c.ended || pl.variant != c.variant {
				t.Fatalf("got %+v, %v", pl, err)
			}
		})
	}
}

func FuzzParsePlaylist(f *testing.F) {
	f.Add("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:1.0,\nindex7.ts\n")
	f.Add("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow/index.m3u8\n")
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = parsePlaylist(strings.NewReader(in))
	})
}

func TestCheckPlaylist(t *testing.T) {
	t0 := time.Date(2026, 2, 4, 12, 0, 0, 0, time.UTC)
	live := &playlist{fingerprint: "1|a.ts", target: 2}
	mark, err := checkPlaylist(live, nil, t0)
	if err != nil || mark.ChangedAt != t0 {
		t.Fatalf("first look: %+v %v", mark, err)
	}
	if _, err := checkPlaylist(live, mark, t0.Add(5*time.Second)); err != nil {
		t.Errorf("unchanged for 5s with 2s segments: %v", err)
	}
	if _, err := checkPlaylist(live, mark, t0.Add(7*time.Second)); err == nil || !strings.Contains(err.Error(), "has not changed for 7s") {
		t.Errorf("unchanged for 7s: %v", err)
	}
	moved := &playlist{fingerprint: "2|b.ts", target: 2}
	if m, err := checkPlaylist(moved, mark, t0.Add(time.Minute)); err != nil || m.Fingerprint != "2|b.ts" {
		t.Errorf("moved on: %+v %v", m, err)
	}
	if m, err := checkPlaylist(&playlist{ended: true}, mark, t0.Add(time.Hour)); err != nil || m != nil {
		t.Errorf("an ended playlist is not stalled: %+v %v", m, err)
	}
}

func pgm(w, h int, pix func(x, y int) byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "P5\n%d %d\n255\n", w, h)
	for y := range h {
		for x := range w {
			b.WriteByte(pix(x, y))
		}
	}
	return b.Bytes()
}

func TestIsBlank(t *testing.T) {
	for _, c := range []struct {
		name  string
		img   []byte
		blank bool
	}{
		{"black", pgm(64, 36, func(x, y int) byte { return 16 }), true},
		{"flat grey", pgm(64, 36, func(x, y int) byte { return 128 }), true},
		{"black with noise", pgm(64, 36, func(x, y int) byte { return byte(16 + (x*7+y*3)%6) }), true},
		{"bars", pgm(64, 36, func(x, y int) byte { return byte(x * 4) }), false},
		{"dark scene with detail", pgm(64, 36, func(x, y int) byte { return byte((x % 8) * 10) }), false},
		{"not a pgm", []byte("P6\n1 1\n255\nxyz"), true},
		{"truncated", []byte("P5\n64 36\n255\n\x00"), true},
	} {
		if got := isBlank(c.img); got != c.blank {
			t.Errorf("%s: blank = %v, want %v", c.name, got, c.blank)
		}
	}
}

func FuzzPGM(f *testing.F) {
	f.Add(pgm(4, 2, func(x, y int) byte { return byte(x) }))
	f.Add([]byte("P5 # c\n1 1 255 x"))
	f.Fuzz(func(t *testing.T, b []byte) { _ = isBlank(b) })
}

func TestMatches(t *testing.T) {
	data := map[string]any{"status": "OFFICIAL", "header": map[string]any{"version": 2.0, "a/b": true}, "list": []any{"x"}}
	for _, c := range []struct {
		filter map[string]any
		want   bool
	}{
		{map[string]any{"/status": "OFFICIAL"}, true},
		{map[string]any{"/status": "LIVE"}, false},
		{map[string]any{"/header/version": 2}, true},
		{map[string]any{"/header/version": "2"}, false},
		{map[string]any{"/header/a~1b": true}, true},
		{map[string]any{"/list/0": "x"}, true},
		{map[string]any{"/list/1": "x"}, false},
		{map[string]any{"/missing": nil}, false},
		{nil, true},
	} {
		if got := matches(data, c.filter); got != c.want {
			t.Errorf("%v: %v, want %v", c.filter, got, c.want)
		}
	}
}

func TestFieldError(t *testing.T) {
	fe := fieldError(errors.New(".sizes[1]: want WIDTHxHEIGHT"))
	if fe.Pointer != "/sizes/1" || fe.Message != "want WIDTHxHEIGHT" {
		t.Errorf("%+v", fe)
	}
}

func TestNextTick(t *testing.T) {
	j, _ := newJob("j", originConfig, jobSpecEvery(10*time.Second))
	now := time.Date(2026, 2, 4, 12, 0, 3, 0, time.UTC)
	if got := j.next(now, true); !got.Equal(now.Add(7 * time.Second)) {
		t.Errorf("aligned next = %v", got)
	}
	phase := j.phase(10 * time.Second)
	got := j.next(now, false)
	if got.Sub(now) <= 0 || got.Sub(now) > 10*time.Second || got.Add(-phase).Truncate(10*time.Second) != got.Add(-phase) {
		t.Errorf("next with phase %v = %v", phase, got)
	}
}
