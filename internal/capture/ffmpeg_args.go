package capture

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/stadion-dev/stadion/internal/config"
)

// Blank frames (avoid_blank) are dropped inside ffmpeg, before any image
// is encoded: a frame passes when its luma histogram's normalized entropy
// is above minEntropy (a flat or almost flat frame, such as black, grey or
// a logo on black, is near 0) and its mean luma above minLuma (black with
// noise has entropy but no light). ffmpeg stops at the first frame that
// passes; it looks at most blankSearch seconds into the stream.
const (
	minEntropy  = "0.15"
	minLuma     = "24"
	blankSearch = "6"
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

// FFmpegArgs is the ffmpeg command line of one capture of j, writing one
// image per size into dir (s<i>_01.<ext>): decode (keyframes only when
// asked), drop blank frames when asked, and cut every size from the one
// frame that passes. Benchmarks run it bare as the reference.
func FFmpegArgs(j *config.CaptureJob, dir string) []string {
	return ffmpegArgs(j, input{url: j.Source}, dir)
}

// input is what ffmpeg opens for a job: the source itself, or the relay's
// URL of it, and the protocols and demuxers it may use (none named: any).
type input struct {
	url       string
	protocols string
	formats   string
}

// Protocols and demuxers a relayed HTTP source may use: http to the relay
// (crypto for AES-128 HLS), and demuxers that open no URL of their own
// (HLS opens only what the relay rewrote; no DASH, concat, image2 or SDP).
const (
	relayProtocols = "http,tcp,crypto"
	relayFormats   = "hls,mpegts,mov,flv,matroska,aac,mp3,ac3,eac3,h264,hevc,mpegps,avi,webvtt,mpjpeg"
)

func ffmpegArgs(j *config.CaptureJob, in input, dir string) []string {
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "repeat+level+info", "-y", "-copyts", "-threads", "1"}
	// No frame-rate probing: a thumbnail needs none, and with one keyframe
	// per segment it would wait for the next live segment.
	args = append(args, "-fpsprobesize", "0")
	if j.KeyframesOnly {
		// Dropped by the demuxer: cheaper than -skip_frame nokey, whose
		// decoder starves stream probing and costs seconds on live HLS.
		args = append(args, "-discard:v", "nokey")
	}
	if j.AvoidBlank {
		args = append(args, "-t", blankSearch)
	}
	args = append(args, inputArgs(j.Source)...)
	if in.protocols != "" {
		args = append(args, "-protocol_whitelist", in.protocols)
	}
	if in.formats != "" {
		args = append(args, "-format_whitelist", in.formats)
	}
	args = append(args, "-i", in.url, "-filter_threads", "1", "-filter_complex", filterGraph(j))
	f := formats[j.Format]
	for i := range j.Sizes {
		args = append(args, "-map", fmt.Sprintf("[o%d]", i), "-frames:v", "1", "-f", "image2")
		args = append(args, f.args...)
		args = append(args, filepath.Join(dir, fmt.Sprintf("s%d_%%02d.%s", i, f.ext)))
	}
	return args
}

// inputArgs are options of the source's protocol and demuxer: a network
// timeout, and a live HLS start at the newest segment.
func inputArgs(source string) []string {
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
		args = append(args, "-live_start_index", "-1")
	}
	return args
}

func filterGraph(j *config.CaptureJob) string {
	var b strings.Builder
	b.WriteString("[0:v:0]")
	if j.AvoidBlank {
		b.WriteString("signalstats,metadata=select:key=lavfi.signalstats.YAVG:value=" + minLuma + ":function=greater,")
		b.WriteString("entropy,metadata=select:key=lavfi.entropy.normalized_entropy.normal.Y:value=" + minEntropy + ":function=greater,")
	}
	fmt.Fprintf(&b, "showinfo,split=%d", len(j.Sizes))
	for i := range j.Sizes {
		fmt.Fprintf(&b, "[s%d]", i)
	}
	pix := formats[j.Format].pix
	for i, size := range j.Sizes {
		w, h, _ := config.ParseFrameSize(size)
		fmt.Fprintf(&b, ";[s%d]scale=%d:%d%s[o%d]", i, w, h, pix, i)
	}
	return b.String()
}

// warmArgs is the command line of j's warm process (see warm.go): read
// the stream until killed, decode keyframes only (skipped by the
// decoder: its slower probing is paid once here), and pass a keyframe
// at least every/2 after the last one passed, if it is not blank, to a
// numbered, atomically written image per size in dir: s<i>_<n>.<ext>.
func warmArgs(j *config.CaptureJob, in input, dir string) []string {
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "repeat+level+info", "-copyts", "-threads", "1"}
	args = append(args, "-fpsprobesize", "0", "-skip_frame", "nokey")
	args = append(args, inputArgs(j.Source)...)
	if in.protocols != "" {
		args = append(args, "-protocol_whitelist", in.protocols)
	}
	if in.formats != "" {
		args = append(args, "-format_whitelist", in.formats)
	}
	sel := fmt.Sprintf("select=isnan(prev_selected_t)+gte(t-prev_selected_t\\,%.3f),", j.Every.D().Seconds()/2)
	args = append(args, "-i", in.url, "-filter_threads", "1", "-filter_complex", strings.Replace(filterGraph(j), "[0:v:0]", "[0:v:0]"+sel, 1))
	f := formats[j.Format]
	for i := range j.Sizes {
		args = append(args, "-map", fmt.Sprintf("[o%d]", i), "-fps_mode", "passthrough", "-f", "image2", "-atomic_writing", "1")
		args = append(args, f.args...)
		args = append(args, filepath.Join(dir, fmt.Sprintf("s%d_%%06d.%s", i, f.ext)))
	}
	return args
}
