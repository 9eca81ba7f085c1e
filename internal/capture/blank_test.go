package capture

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// avoid_blank passes over the black start of a stream (a fade in at 2 s)
// to the first keyframe that shows something; without it the first frame
// is black; a stream that stays black is a clear job error.
func TestAvoidBlank(t *testing.T) {
	needFFmpeg(t)
	url := startNATS(t)
	dir := t.TempDir()
	fadeIn := filepath.Join(dir, "fade-in.mp4")
	black := filepath.Join(dir, "black.mp4")
	for out, src := range map[string]string{
		fadeIn: "testsrc2=size=320x180:rate=25,fade=in:st=2:d=0.04",
		black:  "color=black:size=320x180:rate=25",
	} {
		cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", src, "-t", "4",
			"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", out)
		if raw, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, raw)
		}
	}
	w := startWorker(t, url, testConfig(t, fmt.Sprintf(`
capture:
  allow: ["127.0.0.1", "localhost"]
  retries: 0
  jobs:
    blank-ok:   {source: %s, sizes: [160x90], keyframes_only: true, avoid_blank: true}
    blank-kept: {source: %s, sizes: [160x90], keyframes_only: true}
    all-black:  {source: %s, sizes: [160x90], avoid_blank: true}
`, fadeIn, fadeIn, black)))
	c := serveAPI(t, w.svc, "admin")
	for _, job := range []string{"blank-ok", "blank-kept", "all-black"} {
		if resp, raw := c.do("POST", "/v1/capture/jobs/"+job+"/trigger", ""); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("trigger %s: %d %s", job, resp.StatusCode, raw)
		}
	}
	eventually(t, 30*time.Second, "every job's outcome", func() bool {
		return c.job("blank-ok").Latest != nil && c.job("blank-kept").Latest != nil && c.job("all-black").LastError != ""
	})
	ok, kept := c.job("blank-ok").Latest, c.job("blank-kept").Latest
	if *ok.StreamTime < 2 || meanLuma(t, c, ok.Sizes[0].URL) < 40 {
		t.Errorf("avoid_blank took the frame at %vs with mean luma %.0f", *ok.StreamTime, meanLuma(t, c, ok.Sizes[0].URL))
	}
	if *kept.StreamTime != 0 || meanLuma(t, c, kept.Sizes[0].URL) > 24 {
		t.Errorf("without avoid_blank: the frame at %vs, mean luma %.0f; want the black first frame", *kept.StreamTime, meanLuma(t, c, kept.Sizes[0].URL))
	}
	if msg := c.job("all-black").LastError; !strings.Contains(msg, "no frame that is not black or flat") {
		t.Errorf("all black: %q", msg)
	}
}

func meanLuma(t *testing.T, c *client, url string) float64 {
	px := decodeGray(t, c, url)
	var sum float64
	for _, v := range px {
		sum += v
	}
	return sum / float64(len(px))
}
