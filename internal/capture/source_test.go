package capture

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/config"
)

// Stream sources of API jobs (not HTTP) are checked before ffmpeg runs and
// ffmpeg is pinned to the checked address, with only the protocols the
// scheme needs; RTSP is refused; the file's jobs are read as written.
func TestStreamInputs(t *testing.T) {
	s := &Service{apiFetch: newFetcher(newReach([]string{"localhost", "127.0.0.2:1935"}, false))}
	for _, c := range []struct {
		origin, source   string
		url, protos, err string
	}{
		{originAPI, "rtmp://localhost/live/cam", "rtmp://127.0.0.1:1935/live/cam", "rtmp,tcp", ""},
		{originAPI, "rtmp://127.0.0.2/live/cam", "rtmp://127.0.0.2:1935/live/cam", "rtmp,tcp", ""},
		{originAPI, "srt://localhost:9000?streamid=x", "srt://127.0.0.1:9000?streamid=x", "srt", ""},
		{originAPI, "rtmp://127.0.0.2:1936/live", "", "", "rtmp://127.0.0.2:1936/live is not in capture.allow"},
		{originAPI, "rtmp://127.0.0.3/live", "", "", "rtmp://127.0.0.3/live is not in capture.allow"},
		{originAPI, "rtsp://localhost/cam", "", "", "RTSP sources can only be read by jobs declared in stadion.yaml"},
		{originConfig, "rtsp://10.0.0.9/cam", "rtsp://10.0.0.9/cam", "", ""},
		{originConfig, "/dev/video0", "/dev/video0", "", ""},
	} {
		j := &job{name: "j", origin: c.origin, spec: config.CaptureJob{Source: c.source}}
		in, sess, err := s.input(context.Background(), j)
		if sess != nil {
			t.Fatalf("%s: a relay session for a stream source", c.source)
		}
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want %q", c.source, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.source, err)
		case c.err == "" && (in.url != c.url && !(strings.Contains(in.url, "[::1]") && c.url != c.source) || in.protocols != c.protos):
			t.Errorf("%s: ffmpeg opens %q with protocols %q, want %q and %q", c.source, in.url, in.protocols, c.url, c.protos)
		}
		if c.origin == originAPI && c.err != "" && !errors.Is(err, errRefused) && !errors.Is(err, errRTSP) {
			t.Errorf("%s: %v is not a refusal", c.source, err)
		}
	}
}
