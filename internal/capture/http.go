package capture

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

// RoleCapture may manage and trigger capture jobs; the admin may too.
// Reading jobs and frames is also open to the subscribers of the
// thumbnails topic.
const RoleCapture = "capture"

// Routes serves the capture API; auth authenticates every route.
func (s *Service) Routes(mux *api.Mux, auth func(http.Handler) http.Handler) {
	read := func(h func(http.ResponseWriter, *http.Request) error) http.Handler {
		return auth(api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if err := s.mayRead(r); err != nil {
				return err
			}
			return h(w, r)
		}))
	}
	write := func(h func(http.ResponseWriter, *http.Request) error) http.Handler {
		return auth(api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if err := s.mayWrite(r); err != nil {
				return err
			}
			return h(w, r)
		}))
	}
	mux.Handle("GET /v1/capture/jobs", read(s.listJobs))
	mux.Handle("GET /v1/capture/jobs/{job}", read(s.getJob))
	mux.Handle("PUT /v1/capture/jobs/{job}", write(s.putJob))
	mux.Handle("DELETE /v1/capture/jobs/{job}", write(s.deleteJob))
	mux.Handle("POST /v1/capture/jobs/{job}/trigger", write(s.triggerJob))
	mux.Handle("GET /v1/capture/jobs/{job}/latest", read(s.latest))
	mux.Handle("GET /v1/capture/jobs/{job}/frames", read(s.listFrames))
	mux.Handle("GET /v1/capture/jobs/{job}/frames/{id}/{file}", read(s.getFrame))
}

func (s *Service) mayWrite(r *http.Request) error {
	p, _ := api.PrincipalFrom(r.Context())
	if p.Admin() || s.cfg.HasRole(p.Client, RoleCapture) {
		return nil
	}
	return api.Forbidden(fmt.Sprintf("managing capture jobs needs the admin key or a client with role %q", RoleCapture))
}

func (s *Service) mayRead(r *http.Request) error {
	if s.mayWrite(r) == nil {
		return nil
	}
	p, _ := api.PrincipalFrom(r.Context())
	if t, ok := s.cfg.Topics[s.cc.Topic]; ok && t.CanSubscribe(p.Client) {
		return nil
	}
	return api.Forbidden(fmt.Sprintf("reading captures needs role %q or a subscription to topic %q", RoleCapture, s.cc.Topic))
}

// jobOf returns the job named in the path, or 404.
func (s *Service) jobOf(r *http.Request) (*job, error) {
	name := r.PathValue("job")
	j, ok := s.jobs.get(name)
	if !ok {
		return nil, api.NotFound(fmt.Sprintf("no capture job %q (list them with GET /v1/capture/jobs)", name))
	}
	return j, nil
}

func (s *Service) listJobs(w http.ResponseWriter, r *http.Request) error {
	views := []JobView{}
	for _, j := range s.jobs.all() {
		v, err := s.view(r, j)
		if err != nil {
			return err
		}
		views = append(views, v)
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"jobs": views})
	return nil
}

func (s *Service) getJob(w http.ResponseWriter, r *http.Request) error {
	j, err := s.jobOf(r)
	if err != nil {
		return err
	}
	v, err := s.view(r, j)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, v)
	return nil
}

func (s *Service) putJob(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("job")
	var spec JobSpec
	if err := api.DecodeJSON(r, 64<<10, &spec); err != nil {
		return err
	}
	if err := s.checkSpec(name, spec); err != nil {
		return err
	}
	_, existed := s.jobs.get(name)
	if err := s.jobs.put(r.Context(), name, spec); err != nil {
		if errors.Is(err, errConfigJob) {
			return api.NewProblem(http.StatusConflict, "conflict", "Conflict", err.Error())
		}
		return api.Unavailable("storing the job: " + err.Error())
	}
	j, _ := s.jobs.get(name)
	v, err := s.view(r, j)
	if err != nil {
		return err
	}
	api.WriteJSON(w, map[bool]int{true: http.StatusOK, false: http.StatusCreated}[existed], v)
	return nil
}

// checkSpec validates an API job as the file's jobs are validated.
func (s *Service) checkSpec(name string, spec JobSpec) error {
	cj, err := spec.config(s.cc)
	if err != nil {
		return api.BadRequest(err.Error())
	}
	errs := config.ValidateCaptureJob("", name, &cj)
	if cj.Source != "" && !isNetworkSource(cj.Source) {
		errs = append(errs, fmt.Errorf(".source: jobs added through the API read network streams (http, https, rtmp, rtmps, srt); a file, device or RTSP stream needs a job in stadion.yaml"))
	} else if u, err := url.Parse(cj.Source); cj.Source != "" && err == nil && u.Scheme == "rtsp" {
		errs = append(errs, fmt.Errorf(".source: %v", errRTSP))
	} else if cj.Source != "" && err == nil && !s.apiFetch.reach.listed(u) {
		errs = append(errs, fmt.Errorf(".source: host %q is not in capture.allow; an administrator lists the stream hosts jobs added through the API may read", u.Host))
	}
	if cj.On != nil && cj.On.Topic != "" {
		if _, ok := s.cfg.Topics[cj.On.Topic]; !ok {
			errs = append(errs, fmt.Errorf(".on.topic: unknown topic %q", cj.On.Topic))
		}
	}
	if s.ffmpeg == "" {
		return api.Unavailable(fmt.Sprintf("ffmpeg (%q) is not installed on this server; install it or set capture.ffmpeg", s.cc.FFmpeg))
	}
	if len(errs) == 0 {
		return nil
	}
	p := api.BadRequest("the capture job is invalid")
	for _, e := range errs {
		p.Errors = append(p.Errors, fieldError(e))
	}
	return p
}

// isNetworkSource reports whether a source is a network stream, the only
// kind an API client may name: the server's files are not theirs to read.
func isNetworkSource(source string) bool {
	u, err := url.Parse(source)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "http", "https", "rtmp", "rtmps", "srt", "rtsp":
		return u.Host != ""
	}
	return false
}

var indexRE = regexp.MustCompile(`\[(\d+)\]`)

// fieldError turns ".sizes[1]: message" into a JSON pointer and message.
func fieldError(err error) api.FieldError {
	field, msg, ok := strings.Cut(err.Error(), ": ")
	if !ok || !strings.HasPrefix(field, ".") && field != "" {
		return api.FieldError{Pointer: "", Message: err.Error()}
	}
	field = indexRE.ReplaceAllString(field, ".$1")
	return api.FieldError{Pointer: strings.ReplaceAll(field, ".", "/"), Message: msg}
}

func (s *Service) deleteJob(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("job")
	ok, err := s.jobs.remove(r.Context(), name)
	switch {
	case errors.Is(err, errConfigJob):
		return api.NewProblem(http.StatusConflict, "conflict", "Conflict", err.Error())
	case err != nil:
		return api.Unavailable("deleting the job: " + err.Error())
	case !ok:
		return api.NotFound(fmt.Sprintf("no capture job %q added through the API", name))
	}
	if err := s.frames.drop(r.Context(), name); err != nil {
		s.log.Warn("deleting the frames of a job", "job", name, "err", err)
	}
	_ = s.status.drop(r.Context(), name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) triggerJob(w http.ResponseWriter, r *http.Request) error {
	j, err := s.jobOf(r)
	if err != nil {
		return err
	}
	tk := manualTick(j.name)
	if _, err := s.ticks.publish(r.Context(), tk); err != nil {
		return api.Unavailable(err.Error())
	}
	api.WriteJSON(w, http.StatusAccepted, map[string]any{
		"job": j.name, "tick": tk.ID, "at": tk.At,
		"frame": fmt.Sprintf("/v1/capture/jobs/%s/frames?since=%s", j.name, tk.At.Add(-time.Millisecond).Format(time.RFC3339Nano)),
	})
	return nil
}
