package limits

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// Request is what a limit can match of one HTTP request or MQTT event.
type Request struct {
	// Method and Path: the HTTP method and URL path, or CONNECT (no
	// path) or PUBLISH and the topic for MQTT.
	Method, Path string
	UserAgent    string
	Source       netip.Addr
	Client       string // the API key's client ("" when none)
	KeyID        string
	MQTTUser     string // a viewer token's user
	Anonymous    bool   // an MQTT connection without credentials
	Venue        string
}

// set is an immutable index of the live limits. Each limit is filed under
// one field of its match (the most selective it has), so a request looks
// at the few limits that can match it instead of every limit; the other
// fields of a candidate are checked after.
type set struct {
	all    []*limit
	byName map[string]*limit

	byKey, byClient, byUser, byVenue map[string][]*limit
	// bySource holds networks per prefix length, longest first.
	bySource []sourceLevel
	// User-Agent patterns: anchored ones under their literal prefix (per
	// prefix length), the others tried in turn; per distinct User-Agent
	// the result is cached.
	uaPrefix []uaLevel
	uaOther  []*limit
	uaCache  *uaCache
	routes   map[string]*routeNode // by method; "" for any
	anon     []*limit
	always   []*limit
	// identity says whether any limit needs the caller's client or key
	// (resolving a bearer key costs a hash).
	identity bool
}

type sourceLevel struct {
	bits int
	nets map[netip.Prefix][]*limit
}

type uaLevel struct {
	n    int
	lits map[string][]*limit
}

func newSet(ls []*limit) *set {
	s := &set{
		byName: map[string]*limit{}, byKey: map[string][]*limit{}, byClient: map[string][]*limit{},
		byUser: map[string][]*limit{}, byVenue: map[string][]*limit{}, routes: map[string]*routeNode{},
		uaCache: newUACache(),
	}
	for _, l := range ls {
		s.all = append(s.all, l)
		s.byName[l.name] = l
		s.file(l)
	}
	slices.SortFunc(s.bySource, func(a, b sourceLevel) int { return b.bits - a.bits })
	return s
}

// file puts l under its most selective field.
func (s *set) file(l *limit) {
	m := l.spec.Match
	if m.Client != "" || m.KeyID != "" || l.per == perClient || l.per == perKeyID {
		s.identity = true
	}
	switch {
	case m.KeyID != "":
		s.byKey[m.KeyID] = append(s.byKey[m.KeyID], l)
	case m.Client != "":
		s.byClient[m.Client] = append(s.byClient[m.Client], l)
	case m.MQTTUser != "":
		s.byUser[m.MQTTUser] = append(s.byUser[m.MQTTUser], l)
	case m.Venue != "":
		s.byVenue[m.Venue] = append(s.byVenue[m.Venue], l)
	case l.source.IsValid():
		s.fileSource(l)
	case l.ua != nil && l.uaLit != "":
		s.fileUAPrefix(l)
	case l.ua != nil:
		s.uaOther = append(s.uaOther, l)
	case l.route != nil:
		n := s.routes[l.route.method]
		if n == nil {
			n = &routeNode{}
			s.routes[l.route.method] = n
		}
		n.add(l.route.segs, l)
	case m.Anonymous:
		s.anon = append(s.anon, l)
	default:
		s.always = append(s.always, l)
	}
}

func (s *set) fileSource(l *limit) {
	i := slices.IndexFunc(s.bySource, func(v sourceLevel) bool { return v.bits == l.source.Bits() })
	if i < 0 {
		s.bySource = append(s.bySource, sourceLevel{bits: l.source.Bits(), nets: map[netip.Prefix][]*limit{}})
		i = len(s.bySource) - 1
	}
	s.bySource[i].nets[l.source] = append(s.bySource[i].nets[l.source], l)
}

func (s *set) fileUAPrefix(l *limit) {
	n := len(l.uaLit)
	i := slices.IndexFunc(s.uaPrefix, func(v uaLevel) bool { return v.n == n })
	if i < 0 {
		s.uaPrefix = append(s.uaPrefix, uaLevel{n: n, lits: map[string][]*limit{}})
		i = len(s.uaPrefix) - 1
	}
	s.uaPrefix[i].lits[l.uaLit] = append(s.uaPrefix[i].lits[l.uaLit], l)
}

// candidates appends every limit that matches r to out.
func (s *set) candidates(r *Request, out []*limit) []*limit {
	start := len(out)
	if r.KeyID != "" {
		out = append(out, s.byKey[r.KeyID]...)
	}
	if r.Client != "" {
		out = append(out, s.byClient[r.Client]...)
	}
	if r.MQTTUser != "" {
		out = append(out, s.byUser[r.MQTTUser]...)
	}
	if r.Venue != "" {
		out = append(out, s.byVenue[r.Venue]...)
	}
	if r.Source.IsValid() {
		for _, lv := range s.bySource {
			if p, err := r.Source.Prefix(lv.bits); err == nil {
				out = append(out, lv.nets[p]...)
			}
		}
	}
	if len(s.uaPrefix) > 0 || len(s.uaOther) > 0 {
		out = append(out, s.userAgent(r.UserAgent)...)
	}
	if len(s.routes) > 0 {
		out = s.route(r, out)
	}
	if r.Anonymous {
		out = append(out, s.anon...)
	}
	out = append(out, s.always...)
	// keep those whose other fields match too
	kept := out[:start]
	for _, l := range out[start:] {
		if l.matches(r) {
			kept = append(kept, l)
		}
	}
	return kept
}

func (s *set) route(r *Request, out []*limit) []*limit {
	path := r.Path
	if len(path) > 0 && path[0] == '/' {
		path = path[1:]
	}
	if n := s.routes[r.Method]; n != nil {
		out = n.match(path, out)
	}
	if n := s.routes[""]; n != nil && r.Method != MethodConnect && r.Method != MethodPublish {
		out = n.match(path, out)
	}
	return out
}

// userAgent returns the limits filed under a User-Agent pattern that
// matches ua (cached per distinct ua).
func (s *set) userAgent(ua string) []*limit {
	if len(ua) > maxUserAgentLen {
		ua = ua[:maxUserAgentLen]
	}
	if ls, ok := s.uaCache.get(ua); ok {
		return ls
	}
	var ls []*limit
	for _, lv := range s.uaPrefix {
		if len(ua) < lv.n {
			continue
		}
		for _, l := range lv.lits[ua[:lv.n]] {
			if l.ua.MatchString(ua) {
				ls = append(ls, l)
			}
		}
	}
	for _, l := range s.uaOther {
		if l.ua.MatchString(ua) {
			ls = append(ls, l)
		}
	}
	s.uaCache.put(ua, ls)
	return ls
}

// matches checks every field of l's match against r.
func (l *limit) matches(r *Request) bool {
	m := &l.spec.Match
	switch {
	case m.KeyID != "" && m.KeyID != r.KeyID,
		m.Client != "" && m.Client != r.Client,
		m.MQTTUser != "" && m.MQTTUser != r.MQTTUser,
		m.Venue != "" && m.Venue != r.Venue,
		m.Anonymous && !r.Anonymous,
		l.source.IsValid() && !l.source.Contains(r.Source):
		return false
	}
	if l.route != nil && !l.route.matches(r) {
		return false
	}
	if l.ua != nil {
		ua := r.UserAgent
		if len(ua) > maxUserAgentLen {
			ua = ua[:maxUserAgentLen]
		}
		return l.ua.MatchString(ua)
	}
	return true
}

// matches checks one route (for a limit filed under another field).
func (rt *route) matches(r *Request) bool {
	if rt.method != r.Method && (rt.method != "" || r.Method == MethodConnect || r.Method == MethodPublish) {
		return false
	}
	path := r.Path
	if len(path) > 0 && path[0] == '/' {
		path = path[1:]
	}
	var buf [4]*limit
	return len(rt.trie.match(path, buf[:0])) > 0
}

// uaCache remembers, per distinct User-Agent, which patterns match it. It
// holds at most uaCacheSize entries and starts over when full, so a client
// that sends a new User-Agent with every request costs the patterns each
// time but cannot grow memory.
type uaCache struct {
	mu sync.RWMutex
	m  map[string][]*limit
}

const uaCacheSize = 4096

func newUACache() *uaCache { return &uaCache{m: map[string][]*limit{}} }

func (c *uaCache) get(ua string) ([]*limit, bool) {
	c.mu.RLock()
	ls, ok := c.m[ua]
	c.mu.RUnlock()
	return ls, ok
}

func (c *uaCache) put(ua string, ls []*limit) {
	c.mu.Lock()
	if len(c.m) >= uaCacheSize {
		clear(c.m)
	}
	c.m[strings.Clone(ua)] = ls // a copy: ua may be a cut of a 64 KiB header
	c.mu.Unlock()
}
