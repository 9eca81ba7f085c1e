package capture

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

const relayBase = "http://127.0.0.1:1/tok/"

// linker hands out relay links for allowed hosts, as a session does.
func linker(allowed string) (func(*url.URL) (string, error), *[]string) {
	var links []string
	return func(u *url.URL) (string, error) {
		if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() != allowed {
			return "", &refusedError{url: shownURL(u)}
		}
		l := fmt.Sprintf("%s%d", relayBase, len(links))
		links = append(links, l)
		return l, nil
	}, &links
}

func TestRewritePlaylist(t *testing.T) {
	base, _ := url.Parse("http://a.example/live/index.m3u8")
	for _, c := range []struct {
		name, in, want, err string
	}{
		{"media", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,title http://evil/\nseg0.ts\n#EXTINF:2.0,\n/abs/seg1.ts\n#EXT-X-ENDLIST\n",
			"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nhttp://127.0.0.1:1/tok/0\n#EXTINF:2.0,\nhttp://127.0.0.1:1/tok/1\n#EXT-X-ENDLIST\n", ""},
		{"key and map", "#EXTM3U\r\n#EXT-X-KEY:METHOD=AES-128,URI=\"k.bin\",IV=0x01\r\n#EXT-X-MAP:URI=init.mp4\r\nseg.m4s\r\n",
			"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"http://127.0.0.1:1/tok/0\",IV=0x01\n#EXT-X-MAP:URI=\"http://127.0.0.1:1/tok/1\"\nhttp://127.0.0.1:1/tok/2\n", ""},
		{"master", "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"audio.m3u8\"\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.4d401f,mp4a.40.2\"\nv.m3u8\n",
			"#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"http://127.0.0.1:1/tok/0\"\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.4d401f,mp4a.40.2\"\nhttp://127.0.0.1:1/tok/1\n", ""},
		{"unknown tags and comments dropped", "#EXTM3U\n# http://evil/x\n#EXT-X-FUTURE:URI=\"http://evil/\"\n#ext-x-key:URI=\"http://evil/\"\nseg.ts\n",
			"#EXTM3U\nhttp://127.0.0.1:1/tok/0\n", ""},
		{"segment elsewhere", "#EXTM3U\nhttp://b.example/seg.ts\n", "", "http://b.example/seg.ts is not in capture.allow"},
		{"key elsewhere", "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"http://b.example/k\"\nseg.ts\n", "", "http://b.example/k is not in capture.allow"},
		{"bare key elsewhere", "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128, uri=http://b.example/k\nseg.ts\n", "", "http://b.example/k is not in capture.allow"},
		{"file", "#EXTM3U\nfile:///etc/passwd\n", "", "file:///etc/passwd is not in capture.allow"},
		{"crypto", "#EXTM3U\ncrypto+http://b.example/s.ts\n", "", "is not in capture.allow"},
		{"url in another attribute", "#EXTM3U\n#EXT-X-MAP:URI=\"i.mp4\",X=\"http://b.example/\"\n", "", "holds a URL"},
		{"malformed attributes", "#EXTM3U\n#EXT-X-KEY:URI=\"k\n", "", "unterminated"},
		{"not a playlist", "<html>", "", "no #EXTM3U"},
	} {
		t.Run(c.name, func(t *testing.T) {
			link, _ := linker("a.example")
			out, err := rewritePlaylist([]byte(c.in), base, link)
			switch {
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("error %v, want %q", err, c.err)
			case c.err == "" && err != nil:
				t.Fatal(err)
			case c.err == "" && string(out) != c.want:
				t.Fatalf("got\n%s\nwant\n%s", out, c.want)
			}
		})
	}
}

// FuzzPlaylistRewrite: whatever a source sends, a rewritten playlist names
// no URL but the relay links it was given, so ffmpeg can open nothing else.
func FuzzPlaylistRewrite(f *testing.F) {
	for _, s := range []string{
		"#EXTM3U\n#EXTINF:2,\nseg0.ts\n",
		"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k.bin\"\nseg.ts\n",
		"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhttp://b.example/v.m3u8\n",
		"#EXTM3U\n#EXT-X-MAP:URI=init.mp4,BYTERANGE=\"1@0\"\n",
		"\ufeff#EXTM3U\n#EXT-X-MEDIA:URI=\"a.m3u8\",NAME=\"x,y\"\n",
		"#EXTM3U\n#EXT-X-BYTERANGE:100@0\nhttp://a.example:80/s.ts?x=\"\n",
	} {
		f.Add(s)
	}
	base, _ := url.Parse("http://a.example/live/index.m3u8")
	f.Fuzz(func(t *testing.T, in string) {
		link, links := linker("a.example")
		out, err := rewritePlaylist([]byte(in), base, link)
		if err != nil {
			return
		}
		rest := string(out)
		for i := len(*links) - 1; i >= 0; i-- { // longest first: /tok/10 before /tok/1
			rest = strings.ReplaceAll(rest, (*links)[i], "LINK")
		}
		if strings.Contains(rest, "://") {
			t.Fatalf("a URL survives the rewrite:\n%s", out)
		}
		for _, line := range strings.Split(strings.TrimSuffix(rest, "\n"), "\n") {
			if !strings.HasPrefix(line, "#") && line != "LINK" {
				t.Fatalf("line %q is neither a tag nor a relay link", line)
			}
			lower := strings.ToLower(line)
			for i := strings.Index(lower, "uri="); i >= 0; i = strings.Index(lower, "uri=") {
				if (line[i-1] == ':' || line[i-1] == ',' || line[i-1] == '"') && !strings.HasPrefix(line[i:], `URI="LINK"`) {
					t.Fatalf("a URI attribute not rewritten: %q", line)
				}
				line, lower = line[i+4:], lower[i+4:]
			}
		}
	})
}
