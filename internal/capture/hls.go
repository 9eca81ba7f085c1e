package capture

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// playlistMark is what a job last saw of its live HLS playlist: a stream
// whose playlist stops changing has stalled, although its old segments
// still decode.
type playlistMark struct {
	Fingerprint string    `json:"fingerprint"` // media sequence and last segment
	ChangedAt   time.Time `json:"changed_at"`
	Target      float64   `json:"target_duration"`
}

// playlist is the part of a media playlist the stall check reads.
type playlist struct {
	fingerprint string
	target      float64
	ended       bool
	variant     string // a master playlist's first variant
}

// isHLS reports whether a source is an HLS playlist over HTTP.
func isHLS(source string) bool {
	u, err := url.Parse(source)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.HasSuffix(u.Path, ".m3u8")
}

// fetchPlaylist reads a live playlist through the job's fetcher (every
// request checked), following a master playlist to its first variant.
func fetchPlaylist(ctx context.Context, f *fetcher, source string) (*playlist, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	u, err := url.Parse(source)
	if err != nil {
		return nil, fmt.Errorf("capture: the source is not a URL")
	}
	for range 2 {
		pl, final, err := getPlaylist(ctx, f, u)
		if err != nil || pl.variant == "" {
			return pl, err
		}
		if u, err = final.Parse(pl.variant); err != nil {
			return nil, fmt.Errorf("playlist: %s names a bad variant URI", shownURL(final))
		}
	}
	return nil, fmt.Errorf("playlist: nested master playlists")
}

func getPlaylist(ctx context.Context, f *fetcher, u *url.URL) (*playlist, *url.URL, error) {
	resp, final, err := f.get(ctx, u, "")
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	pl, err := parsePlaylist(io.LimitReader(resp.Body, maxPlaylist))
	return pl, final, err
}

func parsePlaylist(r io.Reader) (*playlist, error) {
	sc := bufio.NewScanner(r)
	pl := &playlist{}
	var seq, last string
	first, inf := true, false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if first && line != "#EXTM3U" {
			return nil, fmt.Errorf("playlist: not an HLS playlist (no #EXTM3U)")
		}
		first = false
		switch {
		case strings.HasPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"):
			seq = strings.TrimPrefix(line, "#EXT-X-MEDIA-SEQUENCE:")
		case strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			pl.target, _ = strconv.ParseFloat(strings.TrimPrefix(line, "#EXT-X-TARGETDURATION:"), 64)
		case line == "#EXT-X-ENDLIST":
			pl.ended = true
		case strings.HasPrefix(line, "#EXT-X-STREAM-INF"):
			inf = true
		case line != "" && !strings.HasPrefix(line, "#"):
			if inf && pl.variant == "" {
				pl.variant = line
			}
			last = line
		}
	}
	if first {
		return nil, fmt.Errorf("playlist: empty")
	}
	pl.fingerprint = seq + "|" + last
	return pl, sc.Err()
}

// stallAfter is how long a live playlist may stay the same.
func (m *playlistMark) stallAfter() time.Duration {
	return max(3*time.Duration(m.Target*float64(time.Second)), 5*time.Second)
}

// checkPlaylist compares a live playlist with the job's last mark. It
// returns the new mark, and an error when the stream has stalled or
// ended: a playlist the job saw live that now carries #EXT-X-ENDLIST (the
// encoder stopped; ffmpeg writes it when it is killed) has nothing live
// left to capture, although its old segments still decode. A playlist
// that was finished from the job's first look is a recording, captured
// as it is.
func checkPlaylist(pl *playlist, prev *playlistMark, now time.Time) (*playlistMark, error) {
	if pl.ended {
		if prev != nil {
			return prev, fmt.Errorf("the stream ended (its playlist now has #EXT-X-ENDLIST; live since %s): restart the encoder, or delete the job",
				prev.ChangedAt.Format(time.RFC3339))
		}
		return nil, nil // a finished (VOD) playlist does not change
	}
	if prev == nil || prev.Fingerprint != pl.fingerprint {
		return &playlistMark{Fingerprint: pl.fingerprint, ChangedAt: now.UTC(), Target: pl.target}, nil
	}
	if stale := now.Sub(prev.ChangedAt); stale > prev.stallAfter() {
		return prev, fmt.Errorf("the live playlist has not changed for %v (the stream stalled or the encoder stopped)", stale.Round(time.Second))
	}
	return prev, nil
}
