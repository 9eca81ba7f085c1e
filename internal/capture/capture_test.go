package capture

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"net/http"
	"testing"
	"time"

	_ "golang.org/x/image/webp"
)

func fileJobConfig(source, format string) string {
	return fmt.Sprintf(`
capture:
  allow: ["127.0.0.1", "localhost"]
  retries: 0
  jobs:
    still:
      source: %s
      sizes: [320x180, 160x90]
      format: %s
      keyframes_only: true
      avoid_blank: true
`, source, format)
}

// A manual trigger captures a file in every size; the stored images decode
// with the right dimensions in each format.
func TestCaptureFormats(t *testing.T) {
	needFFmpeg(t)
	url := startNATS(t)
	video := testVideo(t, t.TempDir(), "clip.mp4", 4)
	for _, format := range []string{"jpeg", "png", "webp"} {
		t.Run(format, func(t *testing.T) {
			w := startWorker(t, url, testConfig(t, fileJobConfig(video, format)))
			c := serveAPI(t, w.svc, "admin")
			resp, raw := c.do("POST", "/v1/capture/jobs/still/trigger", "")
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("trigger: %d %s", resp.StatusCode, raw)
			}
			var fr *Frame
			eventually(t, 30*time.Second, "a frame", func() bool {
				fr = c.job("still").Latest
				return fr != nil && fr.Format == format
			})
			for i, want := range []image.Point{{320, 180}, {160, 90}} {
				resp, body := c.do("GET", fr.Sizes[i].URL, "")
				if ct := resp.Header.Get("Content-Type"); ct != "image/"+format {
					t.Errorf("Content-Type = %q", ct)
				}
				img, got, err := image.Decode(bytes.NewReader(body))
				if err != nil || got != format {
					t.Fatalf("%s: decode as %q: %v", fr.Sizes[i].Size, got, err)
				}
				if img.Bounds().Size() != want {
					t.Errorf("%s: size %v", fr.Sizes[i].Size, img.Bounds().Size())
				}
			}
			if fr.StreamTime == nil {
				t.Error("no stream time")
			}
		})
	}
}

// A job every second on a live HLS stream being written: frames keep
// coming, consecutive ones differ (the pattern moves), and the latest
// image carries an ETag that answers 304.
func TestCaptureLiveHLS(t *testing.T) {
	needFFmpeg(t)
	url := startNATS(t)
	src := liveHLS(t)
	w := startWorker(t, url, testConfig(t, fmt.Sprintf(`
capture:
  allow: ["127.0.0.1", "localhost"]
  jobs:
    live:
      source: %s
      every: 1s
      sizes: [320x180]
      keyframes_only: true
`, src)))
	c := serveAPI(t, w.svc, "admin")
	var frames []Frame
	// Under load the writer can lag a tick behind, so two ticks may take
	// the same newest keyframe; wait for the stream to have moved on.
	eventually(t, 60*time.Second, "two frames at different stream times", func() bool {
		frames = c.frames("live")
		n := len(frames)
		return n >= 2 && frames[n-1].StreamTime != nil && frames[n-2].StreamTime != nil &&
			*frames[n-1].StreamTime != *frames[n-2].StreamTime
	})
	a, b := frames[len(frames)-2], frames[len(frames)-1]
	resp, raw := c.do("GET", "/v1/capture/jobs/live/frames?since="+a.CapturedAt.Format(time.RFC3339Nano), "")
	var after struct{ Frames []Frame }
	if err := json.Unmarshal(raw, &after); err != nil || resp.StatusCode != 200 || len(after.Frames) == 0 || after.Frames[0].ID != b.ID {
		t.Errorf("frames since the second last: %d %s", resp.StatusCode, raw)
	}
	if *a.StreamTime == *b.StreamTime {
		t.Errorf("two ticks took the same stream time %v", *a.StreamTime)
	}
	imgA := decodeGray(t, c, a.Sizes[0].URL)
	imgB := decodeGray(t, c, b.Sizes[0].URL)
	if diff := meanAbsDiff(imgA, imgB); diff < 1 {
		t.Errorf("consecutive frames differ by %.2f on average; the test pattern moves", diff)
	}
	v := c.job("live")
	if v.LastSuccess == nil || v.Captures < 2 || v.LatencyP50MS <= 0 {
		t.Errorf("status: %+v", v)
	}
	resp, _ = c.do("GET", "/v1/capture/jobs/live/latest", "")
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" || resp.Header.Get("Last-Modified") == "" {
		t.Fatalf("latest: %d etag %q", resp.StatusCode, etag)
	}
	resp, body := c.do("GET", "/v1/capture/jobs/live/latest", "", "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified && c.job("live").Latest.ID == v.Latest.ID {
		t.Errorf("If-None-Match with the current ETag: %d %s", resp.StatusCode, body)
	}
}

func decodeGray(t *testing.T, c *client, url string) []float64 {
	t.Helper()
	_, body := c.do("GET", url, "")
	img, _, err := image.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			out = append(out, float64(r+g+b)/3/257)
		}
	}
	return out
}

func meanAbsDiff(a, b []float64) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var sum float64
	for i := range a {
		d := a[i] - b[i]
		if d < 0 {
			d = -d
		}
		sum += d
	}
	return sum / float64(len(a))
}
