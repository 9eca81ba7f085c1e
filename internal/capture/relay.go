package capture

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The relay is how ffmpeg reads an HTTP source: ffmpeg is given a URL on
// a loopback listener of this process, and may open nothing else (its
// protocol whitelist is http and tcp, and crypto for encrypted HLS). The
// relay fetches what ffmpeg asks for through the job's fetcher (checked,
// pinned, bounded) and rewrites playlists so that every URI in them points
// back at the relay. One capture is one session: an unguessable token in
// the path, and a table of the URLs the session has handed out, so the
// relay serves only URLs of that capture and is no open proxy for other
// local processes.

// Bounds of a relay session.
const (
	sessionInFlight = 8       // concurrent requests of one capture
	sessionBytes    = 1 << 30 // bytes one capture may read in all
)

type relay struct {
	ln  net.Listener
	srv *http.Server
	m   *metrics

	mu       sync.Mutex
	sessions map[string]*session
}

func startRelay(m *metrics) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("capture: relay listener: %w", err)
	}
	r := &relay{ln: ln, m: m, sessions: map[string]*session{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 30 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *relay) close() { _ = r.srv.Close() }

// session is one capture's view of the relay.
type session struct {
	r        *relay
	f        *fetcher
	token    string
	prefix   string // http://127.0.0.1:port/token/
	slots    chan struct{}
	mu       sync.Mutex
	urls     []*url.URL
	index    map[string]int
	err      error // the first refusal or failure, which fails the capture
	read     int64
	rewriter *regexp.Regexp
}

// open starts a session whose requests go through f.
func (r *relay) open(f *fetcher) *session {
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := &session{
		r: r, f: f, token: hex.EncodeToString(b[:]), slots: make(chan struct{}, sessionInFlight),
		index: map[string]int{},
	}
	s.prefix = "http://" + r.ln.Addr().String() + "/" + s.token + "/"
	s.rewriter = regexp.MustCompile(regexp.QuoteMeta(s.prefix) + `(\d+)(\.[a-z0-9]+)?`)
	r.mu.Lock()
	r.sessions[s.token] = s
	r.mu.Unlock()
	r.m.relaySessions.Inc()
	return s
}

// end closes the session: its URLs answer 404 from now on.
func (s *session) end() {
	s.r.mu.Lock()
	delete(s.r.sessions, s.token)
	s.r.mu.Unlock()
	s.r.m.relaySessions.Dec()
}

// link registers u and returns the relay URL ffmpeg reads it from. A URL
// the job may not reach fails here already, with the URL in the error.
func (s *session) link(u *url.URL) (string, error) {
	if err := s.f.reach.permits(u); err != nil {
		s.fail(err)
		return "", err
	}
	key := u.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index[key]
	if !ok {
		if len(s.urls) >= maxSessionURL {
			err := fmt.Errorf("capture: the source names more than %d URLs", maxSessionURL)
			s.failLocked(err)
			return "", err
		}
		i = len(s.urls)
		s.urls = append(s.urls, u)
		s.index[key] = i
	}
	return s.prefix + strconv.Itoa(i) + extOf(u), nil
}

// extOf keeps a URL's file extension, which ffmpeg's HLS demuxer looks at.
func extOf(u *url.URL) string {
	ext := strings.ToLower(path.Ext(u.Path))
	if len(ext) < 2 || len(ext) > 6 || strings.Trim(ext[1:], "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		return ""
	}
	return ext
}

func (s *session) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLocked(err)
}

func (s *session) failLocked(err error) {
	if s.err == nil && !errors.Is(err, context.Canceled) {
		s.err = err
	}
}

// failure is the session's first refusal or failure, or nil.
func (s *session) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// original puts the source's URLs back into a text ffmpeg wrote about the
// relay's.
func (s *session) original(text string) string {
	return s.rewriter.ReplaceAllStringFunc(text, func(m string) string {
		sub := s.rewriter.FindStringSubmatch(m)
		if u := s.url(sub[1]); u != nil {
			return shownURL(u)
		}
		return "(relay)"
	})
}

func (s *session) url(index string) *url.URL {
	i, err := strconv.Atoi(index)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || i < 0 || i >= len(s.urls) {
		return nil
	}
	return s.urls[i]
}

// ServeHTTP answers ffmpeg: /<token>/<index>[.ext].
func (r *relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	token, rest, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
	r.mu.Lock()
	s := r.sessions[token]
	r.mu.Unlock()
	index, _, _ := strings.Cut(rest, ".")
	var u *url.URL
	if s != nil {
		u = s.url(index)
	}
	if u == nil || req.Method != http.MethodGet {
		http.Error(w, "no such capture", http.StatusNotFound)
		return
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		r.m.fetches.WithLabelValues("busy").Inc()
		http.Error(w, "too many requests for one capture", http.StatusServiceUnavailable)
		return
	}
	r.m.relayInFlight.Inc()
	defer r.m.relayInFlight.Dec()
	if err := s.serve(w, req, u); err != nil {
		s.fail(err)
		var big *tooLargeError
		if errors.As(err, &big) {
			r.m.fetches.WithLabelValues("too_large").Inc()
			panic(http.ErrAbortHandler) // cut the response: ffmpeg sees it short
		}
	}
}

// resultOf is a fetch's result as the metrics name it.
func resultOf(err error) string {
	var big *tooLargeError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, errRefused):
		return "refused"
	case errors.As(err, &big):
		return "too_large"
	}
	return "failed"
}

// tooLargeError is a response over its bound.
type tooLargeError struct {
	url   string
	limit int64
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("source %s sent more than %d bytes", e.url, e.limit)
}

// serve fetches u for ffmpeg: a playlist is read whole and rewritten,
// anything else is streamed up to its bound.
func (s *session) serve(w http.ResponseWriter, req *http.Request, u *url.URL) error {
	resp, final, err := s.f.get(req.Context(), u, req.Header.Get("Range"))
	if err != nil {
		http.Error(w, "refused or failed", http.StatusBadGateway)
		return err
	}
	defer resp.Body.Close()
	body := bufio.NewReaderSize(resp.Body, 64<<10)
	if head, _ := body.Peek(16); isPlaylistHead(head) {
		return s.servePlaylist(w, body, final)
	}
	for _, h := range []string{"Content-Type", "Content-Length", "Content-Range", "Accept-Ranges"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	limit := min(int64(maxResponse), sessionBytes-s.addRead(0))
	n, err := copyOut(w, body, limit)
	s.addRead(n)
	s.r.m.fetchBytes.Add(float64(n))
	switch {
	case n > limit:
		return &tooLargeError{url: shownURL(final), limit: limit}
	case err != nil:
		return fmt.Errorf("source %s did not answer (%s)", shownURL(final), failureKind(err))
	}
	return nil
}

// copyOut copies up to limit+1 bytes from the source to ffmpeg. Only the
// source's errors are returned: ffmpeg going away (it has its frame) is
// not a failure.
func copyOut(w io.Writer, src io.Reader, limit int64) (int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	for n <= limit {
		k, rerr := src.Read(buf[:min(int64(len(buf)), limit+1-n)])
		if k > 0 {
			n += int64(k)
			if _, werr := w.Write(buf[:k]); werr != nil {
				return n, nil
			}
		}
		switch {
		case rerr == io.EOF:
			return n, nil
		case rerr != nil:
			return n, rerr
		}
	}
	return n, nil
}

func (s *session) addRead(n int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read += n
	return s.read
}

// isPlaylistHead reports whether a body starts like an HLS playlist
// (whatever its content type says: ffmpeg probes the content).
func isPlaylistHead(head []byte) bool {
	h := strings.TrimLeft(string(head), "\ufeff \t\r\n")
	return strings.HasPrefix(h, "#EXTM3U")
}

func (s *session) servePlaylist(w http.ResponseWriter, body io.Reader, final *url.URL) error {
	raw, err := io.ReadAll(io.LimitReader(body, maxPlaylist+1))
	if err != nil {
		http.Error(w, "failed", http.StatusBadGateway)
		return fmt.Errorf("source %s did not answer (%s)", shownURL(final), failureKind(err))
	}
	if len(raw) > maxPlaylist {
		http.Error(w, "too large", http.StatusBadGateway)
		return &tooLargeError{url: shownURL(final), limit: maxPlaylist}
	}
	s.addRead(int64(len(raw)))
	s.r.m.fetchBytes.Add(float64(len(raw)))
	out, err := rewritePlaylist(raw, final, s.link)
	if err != nil {
		http.Error(w, "refused", http.StatusBadGateway)
		if errors.Is(err, errRefused) {
			return err
		}
		return fmt.Errorf("source %s: %w", shownURL(final), err)
	}
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	_, _ = w.Write(out)
	return nil
}
