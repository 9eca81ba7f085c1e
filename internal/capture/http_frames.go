package capture

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
)

// JobView is a job and its status as GET /v1/capture/jobs shows it.
type JobView struct {
	Name           string     `json:"name"`
	Origin         string     `json:"origin"` // config or api
	Spec           JobSpec    `json:"spec"`
	NextTick       *time.Time `json:"next_tick,omitempty"`
	Captures       uint64     `json:"captures"`
	Failures       uint64     `json:"failures"`
	StaleTicks     uint64     `json:"stale_ticks"`
	LastSuccess    *time.Time `json:"last_success"`
	LastError      string     `json:"last_error"`
	LastErrorAt    *time.Time `json:"last_error_at"`
	CapturesPerMin float64    `json:"captures_per_min"`
	LatencyP50MS   float64    `json:"latency_p50_ms"`
	LatencyP99MS   float64    `json:"latency_p99_ms"`
	Latest         *Frame     `json:"latest"`
}

func (s *Service) view(r *http.Request, j *job) (JobView, error) {
	st, _, err := s.status.get(r.Context(), j.name)
	if err != nil {
		return JobView{}, api.Unavailable("reading the job's status: " + err.Error())
	}
	now := time.Now()
	v := JobView{
		Name: j.name, Origin: j.origin, Spec: specOf(j.spec),
		Captures: st.Captures, Failures: st.Failures, StaleTicks: st.Stale,
		LastSuccess: st.LastSuccess, LastError: st.LastError, LastErrorAt: st.LastErrorAt,
		CapturesPerMin: st.perMinute(now),
		LatencyP50MS:   st.latencyPercentile(50), LatencyP99MS: st.latencyPercentile(99),
		Latest: withURLs(st.Latest),
	}
	if next := j.next(now, s.cc.Align); !next.IsZero() {
		v.NextTick = &next
	}
	return v, nil
}

// withURLs fills in the API paths of a frame's images.
func withURLs(fr *Frame) *Frame {
	if fr == nil {
		return nil
	}
	out := *fr
	out.Sizes = make([]FrameSize, len(fr.Sizes))
	for i, sz := range fr.Sizes {
		sz.URL = frameURL(fr.Job, sz.Object)
		out.Sizes[i] = sz
	}
	return &out
}

// latest serves the newest frame's image (?size= picks one of the job's
// sizes; the first by default).
func (s *Service) latest(w http.ResponseWriter, r *http.Request) error {
	j, err := s.jobOf(r)
	if err != nil {
		return err
	}
	st, _, err := s.status.get(r.Context(), j.name)
	if err != nil {
		return api.Unavailable(err.Error())
	}
	if st.Latest == nil || len(st.Latest.Sizes) == 0 {
		return api.NotFound(fmt.Sprintf("job %q has no frame yet", j.name))
	}
	obj := st.Latest.Sizes[0].Object
	if want := r.URL.Query().Get("size"); want != "" {
		obj = ""
		for _, sz := range st.Latest.Sizes {
			if sz.Size == want {
				obj = sz.Object
			}
		}
		if obj == "" {
			return api.BadRequest(fmt.Sprintf("size %q is not one of the job's sizes %v", want, j.spec.Sizes))
		}
	}
	w.Header().Set("Cache-Control", "no-cache")
	return s.serveImage(w, r, j.name, obj)
}

func (s *Service) listFrames(w http.ResponseWriter, r *http.Request) error {
	j, err := s.jobOf(r)
	if err != nil {
		return err
	}
	var since time.Time
	if q := r.URL.Query().Get("since"); q != "" {
		if since, err = time.Parse(time.RFC3339Nano, q); err != nil {
			return api.BadRequest(fmt.Sprintf("since=%q: want an RFC 3339 time such as 2026-02-04T12:00:00Z", q))
		}
	}
	limit := 100
	if q := r.URL.Query().Get("limit"); q != "" {
		if limit, err = strconv.Atoi(q); err != nil || limit < 1 || limit > 1000 {
			return api.BadRequest("limit: want a number from 1 to 1000")
		}
	}
	frames, err := s.frames.list(r.Context(), j.name, since)
	if err != nil {
		return api.Unavailable("listing frames: " + err.Error())
	}
	if len(frames) > limit {
		frames = frames[len(frames)-limit:]
	}
	for i := range frames {
		frames[i] = *withURLs(&frames[i])
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"job": j.name, "frames": frames})
	return nil
}

func (s *Service) getFrame(w http.ResponseWriter, r *http.Request) error {
	j, err := s.jobOf(r)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "private, max-age=300")
	return s.serveImage(w, r, j.name, r.PathValue("id")+"/"+r.PathValue("file"))
}

// serveImage writes one stored image with Last-Modified and an ETag (its
// digest), answering 304 to a matching If-None-Match.
func (s *Service) serveImage(w http.ResponseWriter, r *http.Request, job, object string) error {
	res, err := s.frames.get(r.Context(), job, object)
	if errors.Is(err, jetstream.ErrObjectNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) {
		return api.NotFound(fmt.Sprintf("no frame %q of job %q (expired, or never taken)", object, job))
	}
	if err != nil {
		return api.Unavailable("reading the frame: " + err.Error())
	}
	defer res.Close()
	info, err := res.Info()
	if err != nil {
		return api.Unavailable(err.Error())
	}
	etag := `"` + strings.TrimPrefix(info.Digest, "SHA-256=") + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
	if match := r.Header.Get("If-None-Match"); match != "" && (match == etag || match == "*" || strings.Contains(match, etag)) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", contentType(formatOfExt(strings.TrimPrefix(path.Ext(object), "."))))
	h.Set("Content-Length", strconv.FormatUint(info.Size, 10))
	_, _ = io.Copy(w, res)
	return nil
}
