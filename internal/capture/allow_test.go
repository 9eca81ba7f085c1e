package capture

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// fakeDNS answers every name from a table.
func fakeDNS(table map[string][]string) func(context.Context, string) ([]netip.Addr, error) {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, a := range table[host] {
			out = append(out, netip.MustParseAddr(a))
		}
		if out == nil {
			return nil, errors.New("no such host")
		}
		return out, nil
	}
}

var testDNS = map[string][]string{
	"cams.example":    {"93.184.216.34"},
	"rebind.example":  {"10.0.0.5"},
	"mixed.example":   {"169.254.169.254", "93.184.216.35"},
	"metadata.google": {"169.254.169.254"},
	"localhost":       {"127.0.0.1", "::1"},
	"cgnat.example":   {"100.64.1.1"},
	"mapped.example":  {"::ffff:10.1.2.3"},
}

// Names in capture.allow reach only public addresses (a name that
// resolves inside the network is refused unless the address is listed);
// listed addresses and localhost reach themselves; ports are honoured.
func TestReachResolve(t *testing.T) {
	r := newReach([]string{"cams.example", "rebind.example", "mixed.example", "localhost", "127.0.0.2", "cgnat.example", "mapped.example", "10.9.9.9:8080", "[::1]:9000"}, false)
	r.lookup = fakeDNS(testDNS)
	for _, c := range []struct {
		url  string
		want string // the addresses, or the error's words
	}{
		{"http://cams.example/a.m3u8", "93.184.216.34:80"},
		{"https://CAMS.example:8443/a.m3u8", "93.184.216.34:8443"},
		{"http://rebind.example/a.m3u8", "resolves to 10.0.0.5, a non-public address"},
		{"http://mixed.example/a.m3u8", "93.184.216.35:80"},
		{"http://localhost:4222/", "127.0.0.1:4222 [::1]:4222"},
		{"http://127.0.0.2:1/", "127.0.0.2:1"},
		{"http://cgnat.example/", "non-public"},
		{"http://mapped.example/", "non-public"},
		{"http://10.9.9.9:8080/", "10.9.9.9:8080"},
		{"http://10.9.9.9:8081/", "not in capture.allow"},
		{"http://[::1]:9000/", "[::1]:9000"},
		{"http://127.0.0.3/", "not in capture.allow"},
		{"http://metadata.google/", "not in capture.allow"},
		{"http://169.254.169.254/", "not in capture.allow"},
		{"http://cams.example.evil/", "not in capture.allow"},
	} {
		u, _ := url.Parse(c.url)
		addrs, err := r.resolve(context.Background(), u.Hostname(), portOf(u), shownURL(u))
		got := ""
		if err != nil {
			got = err.Error()
		}
		for _, a := range addrs {
			got = strings.TrimSpace(got + " " + a.String())
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.url, got, c.want)
		}
	}
}

// The checks before a request: only http and https, only listed hosts,
// and errors that name the URL without its credentials or query.
func TestReachPermits(t *testing.T) {
	r := newReach([]string{"cams.example", "127.0.0.2:8080"}, false)
	for _, c := range []struct{ url, want string }{
		{"http://cams.example/a.m3u8", ""},
		{"https://cams.example:1234/a.m3u8", ""},
		{"http://127.0.0.2:8080/x", ""},
		{"http://127.0.0.2:8081/x", "capture: http://127.0.0.2:8081/x is not in capture.allow"},
		{"http://user:secret@evil.example/a?token=secret", "capture: http://evil.example/a is not in capture.allow"},
		{"file:///etc/passwd", "only http and https"},
		{"data:text/plain,hello", "only http and https"},
		{"crypto+http://cams.example/k", "only http and https"},
		{"concat:http://cams.example/a|http://evil/b", "only http and https"},
		{"rtmp://cams.example/live", "only http and https"},
	} {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		err = r.permits(u)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.url, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.url, err, c.want)
		case err != nil && strings.Contains(err.Error(), "secret"):
			t.Errorf("%s: the error shows a credential: %v", c.url, err)
		}
	}
}

// FuzzAllowURL: whatever the URL and the list, a permitted URL is http or
// https with a listed host and port, and every address resolve returns is
// public, listed itself, or localhost's loopback.
func FuzzAllowURL(f *testing.F) {
	for _, s := range []string{"http://cams.example/a.m3u8", "http://127.0.0.2:8080/x", "http://[::1]:9000/", "http://rebind.example/",
		"http://CAMS.EXAMPLE.:80/", "http://127.0.0.2%2f@evil/", "http://0x7f000002/", "http://[::ffff:127.0.0.2]/", "file:///etc/passwd"} {
		f.Add(s, "cams.example")
		f.Add(s, "127.0.0.2:8080")
	}
	f.Fuzz(func(t *testing.T, raw, allow string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		r := newReach([]string{allow, "rebind.example", "localhost"}, false)
		r.lookup = fakeDNS(testDNS)
		if r.permits(u) == nil {
			if u.Scheme != "http" && u.Scheme != "https" {
				t.Fatalf("%q permitted with scheme %q", raw, u.Scheme)
			}
			if _, ok := r.entry(u.Hostname(), portOf(u)); !ok {
				t.Fatalf("%q permitted but its host %q is not listed", raw, u.Hostname())
			}
		}
		addrs, err := r.resolve(context.Background(), u.Hostname(), portOf(u), shownURL(u))
		if err != nil {
			return
		}
		e, _ := r.entry(u.Hostname(), portOf(u))
		for _, a := range addrs {
			if !public(a.Addr()) && !r.listsAddr(a.Addr(), portOf(u)) && !(e.host == "localhost" && a.Addr().IsLoopback()) {
				t.Fatalf("%q (allow %q) reaches %v", raw, allow, a)
			}
		}
	})
}

// A listed name is resolved by stadion, checked, and connected to at the
// checked address: when the name later resolves somewhere else (DNS
// rebinding), the new address is checked again and refused, and nothing
// reaches it.
func TestFetcherPinsCheckedAddress(t *testing.T) {
	a, aHits := hostServer(t, hostA, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	_, bHits := hostServer(t, hostB, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("B")) }))
	dns := map[string][]string{"cams.example": {hostA}}
	r := newReach([]string{"cams.example", hostA}, false)
	r.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) { return fakeDNS(dns)(ctx, host) }
	f := newFetcher(r)
	f.client.Transport.(*http.Transport).DisableKeepAlives = true // every request dials
	_, port, _ := strings.Cut(strings.TrimPrefix(a, "http://"), ":")
	u, _ := url.Parse("http://cams.example:" + port + "/x")
	resp, _, err := f.get(context.Background(), u, "")
	if err != nil {
		t.Fatalf("the listed name at its listed address: %v", err)
	}
	resp.Body.Close()
	dns["cams.example"] = []string{hostB} // rebound to an address nobody listed
	if _, _, err := f.get(context.Background(), u, ""); err == nil || !strings.Contains(err.Error(), "capture: http://cams.example:"+port+"/x is not in capture.allow (it resolves to 127.0.0.3") {
		t.Fatalf("after rebinding: %v", err)
	}
	if aHits.Load() != 1 || bHits.Load() != 0 {
		t.Errorf("A got %d requests, B %d; want 1 and 0", aHits.Load(), bHits.Load())
	}
}
