package capture

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// An HLS playlist from a source is rewritten before ffmpeg reads it, so
// that every URI in it (variant playlists, segments, keys, init sections,
// renditions) points at the job's relay, which checks it when ffmpeg asks.
// The output holds only what the rewriter understands: tags known to carry
// no URI are copied, tags with URI attributes are re-written from their
// parsed attributes, URI lines are replaced, and everything else (unknown
// tags, comments) is dropped, so that no URI ffmpeg could open is left
// behind in a form the rewriter did not read.

// uriTags carry URI attributes.
var uriTags = map[string]bool{
	"#EXT-X-KEY": true, "#EXT-X-SESSION-KEY": true, "#EXT-X-MAP": true, "#EXT-X-MEDIA": true,
	"#EXT-X-STREAM-INF": true, "#EXT-X-I-FRAME-STREAM-INF": true, "#EXT-X-PART": true,
	"#EXT-X-PRELOAD-HINT": true, "#EXT-X-RENDITION-REPORT": true,
}

// plainTags carry no URI and are copied as they are.
var plainTags = map[string]bool{
	"#EXTINF": true, "#EXT-X-TARGETDURATION": true, "#EXT-X-MEDIA-SEQUENCE": true,
	"#EXT-X-DISCONTINUITY-SEQUENCE": true, "#EXT-X-ENDLIST": true, "#EXT-X-PLAYLIST-TYPE": true,
	"#EXT-X-VERSION": true, "#EXT-X-INDEPENDENT-SEGMENTS": true, "#EXT-X-DISCONTINUITY": true,
	"#EXT-X-PROGRAM-DATE-TIME": true, "#EXT-X-BYTERANGE": true, "#EXT-X-ALLOW-CACHE": true,
	"#EXT-X-START": true, "#EXT-X-GAP": true, "#EXT-X-BITRATE": true, "#EXT-X-PART-INF": true,
	"#EXT-X-SERVER-CONTROL": true,
}

var errNotPlaylist = errors.New("not an HLS playlist (no #EXTM3U)")

// rewritePlaylist returns body with every URI resolved against base and
// replaced by what link returns for it; an error of link ends the rewrite.
func rewritePlaylist(body []byte, base *url.URL, link func(*url.URL) (string, error)) ([]byte, error) {
	var out bytes.Buffer
	first := true
	body = bytes.TrimPrefix(body, []byte("\ufeff"))
	for _, raw := range bytes.Split(body, []byte("\n")) {
		line := strings.TrimSpace(string(raw))
		if first {
			if line != "#EXTM3U" {
				return nil, errNotPlaylist
			}
			out.WriteString("#EXTM3U\n")
			first = false
			continue
		}
		rewritten, err := rewriteLine(line, base, link)
		if err != nil {
			return nil, err
		}
		if rewritten != "" {
			out.WriteString(rewritten)
			out.WriteByte('\n')
		}
	}
	if first {
		return nil, errNotPlaylist
	}
	return out.Bytes(), nil
}

func rewriteLine(line string, base *url.URL, link func(*url.URL) (string, error)) (string, error) {
	switch {
	case line == "":
		return "", nil
	case !strings.HasPrefix(line, "#"):
		return linkRef(line, base, link)
	}
	tag, attrs, _ := strings.Cut(line, ":")
	switch {
	case plainTags[tag]:
		if strings.Contains(line, "://") && tag != "#EXTINF" {
			return "", nil
		}
		if tag == "#EXTINF" { // the title is free text: keep the duration only
			d, _, _ := strings.Cut(attrs, ",")
			return "#EXTINF:" + d + ",", nil
		}
		return line, nil
	case uriTags[tag]:
		list, err := parseAttrs(attrs)
		if err != nil {
			return "", fmt.Errorf("playlist: %s: %w", tag, err)
		}
		for i, a := range list {
			if !strings.EqualFold(a.name, "URI") {
				continue
			}
			ref, err := linkRef(a.value, base, link)
			if err != nil {
				return "", err
			}
			list[i] = attr{name: "URI", value: ref, quoted: true}
		}
		return tag + ":" + formatAttrs(list), nil
	}
	return "", nil // a comment or a tag the rewriter does not know: dropped
}

// linkRef resolves a reference against base and links it.
func linkRef(ref string, base *url.URL, link func(*url.URL) (string, error)) (string, error) {
	u, err := base.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("playlist: a URI does not parse: %q", truncate(ref, 80))
	}
	return link(u)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// attr is one NAME=value of an attribute list.
type attr struct {
	name, value string
	quoted      bool
}

// parseAttrs reads an attribute list strictly: NAME=value pairs separated
// by commas, values either "quoted" (no quote or line break inside) or bare
// (no comma, quote or space).
func parseAttrs(s string) ([]attr, error) {
	var list []attr
	for s != "" {
		name, rest, ok := strings.Cut(s, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, "\", \t") {
			return nil, errors.New("malformed attribute list")
		}
		a := attr{name: name}
		rest = strings.TrimLeft(rest, " \t")
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return nil, errors.New("unterminated quoted value")
			}
			a.value, a.quoted, rest = rest[1:1+end], true, rest[2+end:]
		} else {
			end := strings.IndexByte(rest, ',')
			if end < 0 {
				end = len(rest)
			}
			a.value, rest = strings.TrimSpace(rest[:end]), rest[end:]
			if strings.ContainsAny(a.value, "\" \t") {
				return nil, errors.New("malformed attribute value")
			}
		}
		if strings.Trim(a.name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return nil, errors.New("malformed attribute name")
		}
		if !strings.EqualFold(a.name, "URI") && (strings.Contains(a.value, "://") || strings.Contains(strings.ToLower(a.value), "uri=")) {
			return nil, fmt.Errorf("attribute %s holds a URL", a.name)
		}
		list = append(list, a)
		rest = strings.TrimLeft(rest, " \t")
		if rest != "" && !strings.HasPrefix(rest, ",") {
			return nil, errors.New("malformed attribute list")
		}
		s = strings.TrimPrefix(rest, ",")
	}
	return list, nil
}

func formatAttrs(list []attr) string {
	var b strings.Builder
	for i, a := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(a.name)
		b.WriteByte('=')
		if a.quoted {
			b.WriteString(`"` + a.value + `"`)
		} else {
			b.WriteString(a.value)
		}
	}
	return b.String()
}
