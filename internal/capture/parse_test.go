package capture

import (
	"errors"
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
	if _, err := checkPlaylist(&playlist{ended: true, fingerprint: "1|a.ts"}, mark, t0.Add(3*time.Second)); err == nil || !strings.Contains(err.Error(), "the stream ended") {
		t.Errorf("a live playlist that ended: %v, want an error", err)
	}
	if m, err := checkPlaylist(&playlist{ended: true}, nil, t0.Add(time.Hour)); err != nil || m != nil {
		t.Errorf("a recording (finished from the first look): %+v %v", m, err)
	}
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

func TestPerMinute(t *testing.T) {
	now := time.Date(2026, 2, 4, 12, 0, 0, 0, time.UTC)
	var st jobStatus
	for i := range recentSamples + 10 { // one a second
		st.recordSuccess(&Frame{CapturedAt: now.Add(time.Duration(i-recentSamples-9) * time.Second)}, time.Duration(i)*time.Millisecond)
	}
	if got := st.perMinute(now); got < 59 || got > 61 {
		t.Errorf("one a second: %.1f per minute", got)
	}
	if p50, p99 := st.latencyPercentile(50), st.latencyPercentile(99); p50 >= p99 || p99 > float64(recentSamples+10) {
		t.Errorf("p50 %v p99 %v", p50, p99)
	}
	st = jobStatus{Recent: []sample{{At: now.Add(-time.Minute)}, {At: now.Add(-10 * time.Minute)}}}
	if got := st.perMinute(now); got != 0.2 {
		t.Errorf("one in five minutes: %v", got)
	}
}
