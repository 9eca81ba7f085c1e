package capture

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"syscall"
	"time"
)

// Bounds of what a job's fetches may read.
const (
	maxRedirects  = 5
	maxPlaylist   = 1 << 20   // bytes of one playlist
	maxResponse   = 256 << 20 // bytes of one segment, key or file
	fetchTimeout  = 10 * time.Second
	userAgent     = "stadion-capture"
	maxSessionURL = 4096 // distinct URLs one capture may name
)

// fetcher makes a job's HTTP requests: each one, and each redirect, is
// checked by its reach and its connection pinned to the checked address.
// Errors name the URL and never carry what a remote answered beyond its
// status code.
type fetcher struct {
	reach  *reach
	client *http.Client
	m      *metrics // nil: not counted
}

func newFetcher(r *reach) *fetcher {
	d := &net.Dialer{Timeout: fetchTimeout, KeepAlive: 30 * time.Second}
	f := &fetcher{reach: r}
	tr := &http.Transport{
		Proxy: nil, // never an environment proxy: it would dial for us
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return f.dial(ctx, d, network, addr)
		},
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   fetchTimeout,
		ResponseHeaderTimeout: fetchTimeout,
		IdleConnTimeout:       30 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
	f.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse // each redirect is checked by get
	}}
	return f
}

// dial connects to the first reachable checked address of addr; the
// dialer's Control refuses any other, so what is dialled is what was
// checked.
func (f *fetcher) dial(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	targets, err := f.reach.resolve(ctx, host, port, addr)
	if err != nil {
		return nil, err
	}
	pinned := *d
	pinned.Control = func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return err
		}
		for _, t := range targets {
			if t.Addr() == ap.Addr().Unmap() && t.Port() == ap.Port() {
				return nil
			}
		}
		return &refusedError{url: address}
	}
	var last error
	for _, t := range targets {
		c, err := pinned.DialContext(ctx, network, t.String())
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

// get fetches u with the given Range header (may be ""), following
// redirects after checking each. It returns a 200 or 206 response and the
// URL that answered.
func (f *fetcher) get(ctx context.Context, u *url.URL, rng string) (*http.Response, *url.URL, error) {
	resp, final, err := f.follow(ctx, u, rng)
	if f.m != nil && !errors.Is(err, context.Canceled) {
		f.m.fetches.WithLabelValues(resultOf(err)).Inc()
	}
	return resp, final, err
}

func (f *fetcher) follow(ctx context.Context, u *url.URL, rng string) (*http.Response, *url.URL, error) {
	for range maxRedirects + 1 {
		if err := f.reach.permits(u); err != nil {
			return nil, nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, nil, fmt.Errorf("capture: %s is not a valid URL", shownURL(u))
		}
		req.Header.Set("User-Agent", userAgent)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := f.client.Do(req)
		if err != nil {
			return nil, nil, fetchError(u, err)
		}
		switch {
		case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent:
			return resp, u, nil
		case isRedirect(resp.StatusCode):
			loc, err := u.Parse(resp.Header.Get("Location"))
			resp.Body.Close()
			if err != nil || resp.Header.Get("Location") == "" {
				return nil, nil, fmt.Errorf("source %s redirected to an invalid location", shownURL(u))
			}
			u = loc
		default:
			resp.Body.Close()
			return nil, nil, fmt.Errorf("source %s answered HTTP %d", shownURL(u), resp.StatusCode)
		}
	}
	return nil, nil, fmt.Errorf("source %s redirected more than %d times", shownURL(u), maxRedirects)
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// fetchError turns a failed request into a message that names the URL and
// the kind of failure, never the remote's words.
func fetchError(u *url.URL, err error) error {
	var refused *refusedError
	switch {
	case errors.As(err, &refused):
		return &refusedError{url: shownURL(u), reason: refused.reason}
	case errors.Is(err, context.Canceled):
		return err
	}
	return fmt.Errorf("source %s did not answer (%s)", shownURL(u), failureKind(err))
}

func failureKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return "connection reset"
	}
	var dns *net.DNSError
	var unresolved *unresolvedError
	if errors.As(err, &dns) || errors.As(err, &unresolved) {
		return "its name does not resolve"
	}
	var tlsErr *tls.CertificateVerificationError
	if errors.As(err, &tlsErr) {
		return "its TLS certificate is not valid"
	}
	return "network error"
}
