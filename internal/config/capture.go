package config

import (
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Capture configures frame capture from live video: the ffmpeg binary, the
// workers of this process and the capture jobs. Jobs may also be added at
// run time through the API (they are stored in the engine).
type Capture struct {
	// Enabled runs the capture service even with no jobs in the file, so
	// that jobs can be added through the API. Declaring jobs enables it.
	Enabled bool `yaml:"enabled"`
	// FFmpeg is the ffmpeg binary (a path, or a name looked up in PATH).
	FFmpeg string `yaml:"ffmpeg"`
	// Concurrency is how many ffmpeg processes this process runs at once.
	Concurrency int `yaml:"concurrency"`
	// Timeout bounds one ffmpeg run (a job may set its own).
	Timeout Duration `yaml:"timeout"`
	// Retries is how many more times a failed capture is tried, waiting
	// Backoff, then twice that, and so on.
	Retries int      `yaml:"retries"`
	Backoff Duration `yaml:"backoff"`
	// AckWait is how long a worker may go silent before its tick is handed
	// to another worker (a worker reports progress every AckWait/3).
	AckWait Duration `yaml:"ack_wait"`
	// Align starts every job's ticks at the same instants (multiples of
	// every). By default each job's ticks are shifted by a fixed offset
	// derived from its name, so that many jobs do not all start ffmpeg at
	// once.
	Align bool `yaml:"align"`
	// Retention is how long frames are kept (a job may set its own).
	Retention Duration `yaml:"retention"`
	// Topic names the exchange topic frames are announced on, when it is
	// declared under topics.
	Topic string                 `yaml:"topic"`
	Jobs  map[string]*CaptureJob `yaml:"jobs"`
	// Allow lists the stream hosts that jobs added through the API may
	// read (a name or IP: any port; host:port: that port). Empty allows
	// none, so that an API client cannot make the server fetch arbitrary
	// addresses; the file's own jobs are not limited. Every request of a
	// job (playlists, segments, keys, redirects) is checked after name
	// resolution; a listed name reaches only public addresses unless the
	// address is listed too (localhost reaches loopback).
	Allow []string `yaml:"allow"`
	// Warm is how many scheduled jobs this process captures with a warm
	// ffmpeg: one long-lived process per job that keeps reading the stream
	// between ticks, so that a tick costs a frame and not a start-up.
	// Default 16; 0 takes every capture with a one-shot ffmpeg.
	Warm *int `yaml:"warm"`
}

// DefaultCaptureWarm is capture.warm when unset.
const DefaultCaptureWarm = 16

// WarmProcesses is capture.warm with its default.
func (cp *Capture) WarmProcesses() int {
	if cp.Warm == nil {
		return DefaultCaptureWarm
	}
	return *cp.Warm
}

// AllowsSource reports whether an API job may read from host (port may be
// empty).
func (cp *Capture) AllowsSource(host, port string) bool {
	return Webhooks{Allow: cp.Allow}.Allows(host, port)
}

// CaptureJob is one stream captured on a schedule, on demand and on events.
type CaptureJob struct {
	// Source is the stream: HLS, RTMP, SRT, HTTP(S) or a file.
	Source string `yaml:"source"`
	// Every captures at every multiple of this interval (wall clock).
	Every Duration `yaml:"every"`
	// Cron captures on a 5-field cron schedule (UTC) instead.
	Cron string `yaml:"cron"`
	// Sizes are WIDTHxHEIGHT, all cut from one decoded frame.
	Sizes []string `yaml:"sizes"`
	// Format is jpeg, webp or png.
	Format string `yaml:"format"`
	// KeyframesOnly decodes keyframes only: much cheaper.
	KeyframesOnly bool `yaml:"keyframes_only"`
	// AvoidBlank skips black or flat frames and takes a later one.
	AvoidBlank bool `yaml:"avoid_blank"`
	// Retention and Timeout override capture.retention and capture.timeout.
	Retention Duration `yaml:"retention"`
	Timeout   Duration `yaml:"timeout"`
	// On fires a capture for every event of a topic that matches a filter.
	On *CaptureTrigger `yaml:"on"`
}

// CaptureTrigger is an exchange topic whose events fire captures.
type CaptureTrigger struct {
	Topic string `yaml:"topic"`
	// Filter maps JSON pointers into the event data to the values they must
	// have (all of them), e.g. {"/status": "OFFICIAL"}.
	Filter map[string]any `yaml:"filter"`
}

// Capture formats.
var captureFormats = []string{"jpeg", "webp", "png"}

// CaptureTopic is the default topic frames are announced on.
const CaptureTopic = "thumbnails"

// Active reports whether the capture service runs.
func (c *Capture) Active() bool { return c.Enabled || len(c.Jobs) > 0 }

func (c *Config) setCaptureDefaults() {
	cp := &c.Capture
	if cp.FFmpeg == "" {
		cp.FFmpeg = "ffmpeg"
	}
	if cp.Concurrency == 0 {
		cp.Concurrency = 4 * runtime.NumCPU() // ffmpeg mostly waits on the network
	}
	setDur(&cp.Timeout, 20*time.Second)
	setDur(&cp.Backoff, time.Second)
	setDur(&cp.AckWait, 30*time.Second)
	setDur(&cp.Retention, 24*time.Hour)
	if cp.Retries == 0 {
		cp.Retries = 2
	}
	if cp.Topic == "" {
		cp.Topic = CaptureTopic
	}
	for name, j := range cp.Jobs {
		if j == nil {
			j = &CaptureJob{}
			cp.Jobs[name] = j
		}
		cp.JobDefaults(j)
	}
}

// JobDefaults fills a job's unset fields from the capture section.
func (cp *Capture) JobDefaults(j *CaptureJob) {
	if j.Format == "" {
		j.Format = "jpeg"
	}
	if len(j.Sizes) == 0 {
		j.Sizes = []string{"1280x720"}
	}
	setDur(&j.Retention, cp.Retention.D())
	setDur(&j.Timeout, cp.Timeout.D())
}

func setDur(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

func (c *Config) validateCapture() []error {
	cp := &c.Capture
	var errs []error
	if cp.Concurrency < 1 || cp.Concurrency > 256 {
		errs = append(errs, fieldErr("capture.concurrency", "must be 1 to 256"))
	}
	if w := cp.WarmProcesses(); w < 0 || w > 1024 {
		errs = append(errs, fieldErr("capture.warm", "must be 0 to 1024"))
	}
	if cp.Retries < 0 || cp.Retries > 10 {
		errs = append(errs, fieldErr("capture.retries", "must be 0 to 10"))
	}
	if cp.AckWait.D() < time.Second {
		errs = append(errs, fieldErr("capture.ack_wait", "must be at least 1s"))
	}
	if cp.Timeout.D() < time.Second {
		errs = append(errs, fieldErr("capture.timeout", "must be at least 1s"))
	}
	if !validName(cp.Topic) {
		errs = append(errs, fieldErr("capture.topic", "must be a topic name"))
	}
	for i, a := range cp.Allow {
		if a == "" || strings.ContainsAny(a, "/ *?#@") {
			errs = append(errs, fieldErr(fmt.Sprintf("capture.allow[%d]", i), "must be a host or host:port, not %q", a))
		}
	}
	for _, name := range sortedKeys(cp.Jobs) {
		errs = append(errs, ValidateCaptureJob("capture.jobs."+name, name, cp.Jobs[name])...)
		if on := cp.Jobs[name].On; on != nil && on.Topic != "" {
			if _, ok := c.Topics[on.Topic]; !ok {
				errs = append(errs, fieldErr("capture.jobs."+name+".on.topic", "unknown topic %q (declare it under topics)", on.Topic))
			}
		}
	}
	return errs
}

// ValidateCaptureJob checks one job (from the file or the API); field
// prefixes every error's field name.
func ValidateCaptureJob(field, name string, j *CaptureJob) []error {
	var errs []error
	add := func(sub, format string, args ...any) {
		errs = append(errs, fieldErr(field+sub, format, args...))
	}
	if !validName(name) {
		add("", "name must be lower-case letters, digits, '-' or '_' (at most 64)")
	}
	if err := checkSource(j.Source); err != nil {
		add(".source", "%v", err)
	}
	errs = append(errs, checkSchedule(field, j)...)
	for i, s := range j.Sizes {
		if _, _, err := ParseFrameSize(s); err != nil {
			add(fmt.Sprintf(".sizes[%d]", i), "%v", err)
		}
	}
	if len(j.Sizes) > 8 {
		add(".sizes", "at most 8 sizes")
	}
	if !contains(captureFormats, j.Format) {
		add(".format", "must be jpeg, webp or png, not %q", j.Format)
	}
	if j.Retention.D() < time.Minute {
		add(".retention", "must be at least 1m")
	}
	if j.Timeout.D() < time.Second || j.Timeout.D() > 10*time.Minute {
		add(".timeout", "must be 1s to 10m")
	}
	return errs
}

func checkSchedule(field string, j *CaptureJob) []error {
	var errs []error
	if j.Every != 0 && j.Cron != "" {
		errs = append(errs, fieldErr(field+".every", "give every or cron, not both"))
	}
	if j.Every != 0 && j.Every.D() < time.Second {
		errs = append(errs, fieldErr(field+".every", "must be at least 1s"))
	}
	if j.Cron != "" {
		if _, err := ParseCron(j.Cron); err != nil {
			errs = append(errs, fieldErr(field+".cron", "%v", err))
		}
	}
	if j.On != nil {
		if j.On.Topic == "" {
			errs = append(errs, fieldErr(field+".on.topic", "required"))
		}
		for p := range j.On.Filter {
			if !strings.HasPrefix(p, "/") {
				errs = append(errs, fieldErr(field+".on.filter", "keys are JSON pointers starting with '/', not %q", p))
			}
		}
	}
	return errs
}

func checkSource(s string) error {
	if s == "" {
		return fmt.Errorf("required (a URL such as http://host/live/index.m3u8, rtmp://, srt://, or a file path)")
	}
	if strings.HasPrefix(s, "-") {
		return fmt.Errorf("must not start with '-'")
	}
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		switch u.Scheme {
		case "http", "https", "rtmp", "rtmps", "srt", "rtsp", "file", "udp", "tcp":
		default:
			return fmt.Errorf("unsupported scheme %q (want http, https, rtmp, srt, rtsp or a file path)", u.Scheme)
		}
	}
	return nil
}

// ParseFrameSize parses WIDTHxHEIGHT (each 16 to 7680, even).
func ParseFrameSize(s string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(s, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || w < 16 || h < 16 || w > 7680 || h > 4320 || w%2 == 1 || h%2 == 1 {
		return 0, 0, fmt.Errorf("want WIDTHxHEIGHT with even numbers from 16 up to 7680x4320, e.g. 320x180, not %q", s)
	}
	return w, h, nil
}
