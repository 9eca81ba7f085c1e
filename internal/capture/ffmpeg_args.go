package capture

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/stadion-dev/stadion/internal/config"
)

// Every capture also writes a tiny grey copy of each candidate frame, the
// probe, which blank detection reads.
const (
	probeW, probeH = 64, 36
	// blankCandidates is how many frames, at least candidateGap apart, a
	// job with avoid_blank decodes to find one that is not blank.
	blankCandidates = 3
	candidateGap    = "1"
)

// formats maps a job's format to the file extension and encoder options.
var formats = map[string]struct {
	ext  string
	args []string
	pix  string
}{
	"jpeg": {"jpg", []string{"-c:v", "mjpeg", "-q:v", "3"}, ",format=yuvj420p"},
	"png":  {"png", []string{"-c:v", "png"}, ",format=rgb24"},
	"webp": {"webp", []string{"-c:v", "libwebp", "-quality", "80"}, ",format=yuv420p"},
}

// contentType is the media type of a format.
func contentType(format string) string { return "image/" + format }

// ffmpegArgs is the command line of one capture: decode (keyframes only
// when asked), pick candidates frames apart, and cut every size and the
// probe from each with one decode.
func ffmpegArgs(j *config.CaptureJob, dir string, candidates int) []string {
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "repeat+level+info", "-y", "-copyts", "-threads", "1"}
	if j.KeyframesOnly {
		args = append(args, "-skip_frame", "nokey")
	}
	args = append(args, inputArgs(j.Source, candidates)...)
	args = append(args, "-i", j.Source, "-filter_threads", "1", "-filter_complex", filterGraph(j, candidates))
	f := formats[j.Format]
	frames := fmt.Sprint(candidates)
	for i := range j.Sizes {
		args = append(args, "-map", fmt.Sprintf("[o%d]", i), "-frames:v", frames, "-f", "image2")
		args = append(args, f.args...)
		args = append(args, filepath.Join(dir, fmt.Sprintf("s%d_%%02d.%s", i, f.ext)))
	}
	return append(args, "-map", "[pr]", "-frames:v", frames, "-f", "image2", "-c:v", "pgm",
		filepath.Join(dir, "p_%02d.pgm"))
}

// inputArgs are options of the source's protocol and demuxer: a network
// timeout, and a live HLS start close to the live edge.
func inputArgs(source string, candidates int) []string {
	u, err := url.Parse(source)
	if err != nil || len(u.Scheme) < 2 {
		return nil
	}
	var args []string
	switch u.Scheme {
	case "http", "https", "rtmp", "rtmps", "tcp", "rtsp":
		args = append(args, "-rw_timeout", "10000000")
	}
	if strings.HasSuffix(u.Path, ".m3u8") {
		args = append(args, "-live_start_index", fmt.Sprint(-candidates))
	}
	return args
}

func filterGraph(j *config.CaptureJob, candidates int) string {
	var b strings.Builder
	b.WriteString("[0:v:0]")
	if candidates > 1 {
		b.WriteString("select='isnan(prev_selected_t)+gte(t-prev_selected_t\\," + candidateGap + ")',")
	}
	fmt.Fprintf(&b, "split=%d[p]", len(j.Sizes)+1)
	for i := range j.Sizes {
		fmt.Fprintf(&b, "[s%d]", i)
	}
	fmt.Fprintf(&b, ";[p]scale=%d:%d,format=gray,showinfo[pr]", probeW, probeH)
	pix := formats[j.Format].pix
	for i, size := range j.Sizes {
		w, h, _ := config.ParseFrameSize(size)
		fmt.Fprintf(&b, ";[s%d]scale=%d:%d%s[o%d]", i, w, h, pix, i)
	}
	return b.String()
}

// FFmpegArgs is the ffmpeg command line a worker runs for one capture of
// j, writing its images into dir. Benchmarks run it bare as the reference.
func FFmpegArgs(j *config.CaptureJob, dir string) []string {
	return ffmpegArgs(j, dir, candidatesOf(j))
}

func candidatesOf(j *config.CaptureJob) int {
	if j.AvoidBlank {
		return blankCandidates
	}
	return 1
}
