package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// reach decides which addresses a job's network requests may reach, after
// name resolution. A job added through the API reaches only the hosts of
// capture.allow; a job of stadion.yaml (written by the administrator)
// reaches any address. Every address is checked when it is dialled and the
// connection is made to that very address, so a name that resolves
// differently a moment later (DNS rebinding) changes nothing.
type reach struct {
	any     bool         // a job of the file: every address
	entries []allowEntry // capture.allow
	lookup  func(ctx context.Context, host string) ([]netip.Addr, error)
}

// allowEntry is one capture.allow item: a name or an IP, any port unless
// port is set.
type allowEntry struct {
	host string
	port string
	ip   netip.Addr // valid when host is an IP literal
}

// lookupTimeout bounds one name resolution.
const lookupTimeout = 5 * time.Second

func newReach(allow []string, any bool) *reach {
	r := &reach{any: any, lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
		ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		defer cancel()
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}}
	for _, a := range allow {
		e := allowEntry{host: strings.ToLower(a)}
		if h, p, err := net.SplitHostPort(e.host); err == nil {
			e.host, e.port = h, p
		}
		e.host = strings.Trim(e.host, "[]")
		if ip, err := netip.ParseAddr(e.host); err == nil {
			e.ip = ip.Unmap()
			e.host = e.ip.String()
		}
		r.entries = append(r.entries, e)
	}
	return r
}

// refusedError is a request a job may not make: its text names the URL
// (without credentials) and nothing a remote said.
type refusedError struct {
	url    string
	reason string // why, when more than "not listed"
}

func (e *refusedError) Error() string {
	if e.reason != "" {
		return fmt.Sprintf("capture: %s is not in capture.allow (%s)", e.url, e.reason)
	}
	return fmt.Sprintf("capture: %s is not in capture.allow", e.url)
}

// unresolvedError is a host name that did not resolve.
type unresolvedError struct{ url string }

func (e *unresolvedError) Error() string {
	return fmt.Sprintf("source %s did not answer (its name does not resolve)", e.url)
}

// errRefused is what every refusal wraps, for errors.Is.
var errRefused = errors.New("not in capture.allow")

func (e *refusedError) Unwrap() error { return errRefused }

// shownURL is a URL as errors show it: no user or password, no query (a
// signed URL's token is a credential too).
func shownURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}

// defaultPorts are the ports of the schemes a job may name.
var defaultPorts = map[string]string{"http": "80", "https": "443", "rtmp": "1935", "rtmps": "443", "srt": "", "rtsp": "554"}

// permits reports whether an HTTP request to u may be made, before any
// name resolution: the cheap check every URL gets before it is fetched or
// handed to ffmpeg.
func (r *reach) permits(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return &refusedError{url: shownURL(u), reason: "only http and https URLs are read"}
	}
	if !r.listed(u) {
		return &refusedError{url: shownURL(u)}
	}
	return nil
}

// listed reports whether u's host and port are in capture.allow (or the
// reach is unlimited).
func (r *reach) listed(u *url.URL) bool {
	if r.any {
		return true
	}
	_, ok := r.entry(u.Hostname(), portOf(u))
	return ok
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	return defaultPorts[u.Scheme]
}

// entry finds the capture.allow item naming host and port.
func (r *reach) entry(host, port string) (allowEntry, bool) {
	host = strings.ToLower(strings.Trim(host, "[]"))
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.Unmap().String()
	}
	for _, e := range r.entries {
		if e.host == host && (e.port == "" || e.port == port) {
			return e, true
		}
	}
	return allowEntry{}, false
}

// resolve checks host:port and returns the addresses a connection may be
// made to, in the resolver's order. shown names the request in errors.
func (r *reach) resolve(ctx context.Context, host, port, shown string) ([]netip.AddrPort, error) {
	e, listed := r.entry(host, port)
	if !r.any && !listed {
		return nil, &refusedError{url: shown}
	}
	pn, err := parsePort(port)
	if err != nil {
		return nil, &refusedError{url: shown, reason: "bad port"}
	}
	addrs, err := r.addrs(ctx, host)
	if err != nil {
		return nil, &unresolvedError{url: shown}
	}
	var out []netip.AddrPort
	var skipped netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if r.any || public(a) || e.host == "localhost" && a.IsLoopback() || r.listsAddr(a, port) {
			out = append(out, netip.AddrPortFrom(a, pn))
		} else if !skipped.IsValid() {
			skipped = a
		}
	}
	if len(out) == 0 {
		return nil, &refusedError{url: shown, reason: fmt.Sprintf("it resolves to %s, a non-public address; list that address to allow it", skipped)}
	}
	return out, nil
}

// listsAddr reports whether capture.allow names the address itself.
func (r *reach) listsAddr(a netip.Addr, port string) bool {
	for _, e := range r.entries {
		if e.ip == a && (e.port == "" || e.port == port) {
			return true
		}
	}
	return false
}

func (r *reach) addrs(ctx context.Context, host string) ([]netip.Addr, error) {
	host = strings.ToLower(strings.Trim(host, "[]"))
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	addrs, err := r.lookup(ctx, host)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no address")
	}
	return addrs, err
}

func parsePort(p string) (uint16, error) {
	var n uint16
	_, err := fmt.Sscanf(p, "%d", &n)
	if err != nil || n == 0 || fmt.Sprint(n) != p {
		return 0, errors.New("bad port")
	}
	return n, nil
}

// public reports whether an address is on the public internet: not
// loopback, private, link-local (cloud metadata), shared (CGNAT),
// multicast or unspecified. A name in capture.allow reaches only public
// addresses unless the address itself is listed.
func public(a netip.Addr) bool {
	if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
		return false
	}
	return !cgnat.Contains(a) && !(a.Is6() && nat64.Contains(a))
}

var (
	cgnat = netip.MustParsePrefix("100.64.0.0/10")
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
)
