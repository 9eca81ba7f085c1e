package limits

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stadion-dev/stadion/internal/config"
)

// Spec is a limit as the API and stadion.yaml write it.
type Spec = config.LimitSpec

// Match is a limit's match.
type Match = config.LimitMatch

// Bounds of what a limit may say.
const (
	MaxLimits       = 2000 // limits in the bucket, plans' included (metric labels stay bounded)
	maxNameLen      = 64
	maxRegexpLen    = 512
	maxRouteLen     = 512
	maxUserAgentLen = 512 // a User-Agent is matched on its first 512 bytes
	maxPerKeys      = 10000
	maxReplaces     = 16
	maxTTL          = 30 * 24 * time.Hour
)

// Actions and scopes.
const (
	ActionEnforce = "enforce"
	ActionShadow  = "shadow"
	ScopeProcess  = "process"
	ScopeCluster  = "cluster"
)

// per says which value of a request picks its bucket.
type per uint8

const (
	perAll per = iota
	perClient
	perKeyID
	perUserAgent
	perSource
	perUser
	perVenue
)

var perNames = map[string]per{"": perAll, "client": perClient, "key": perKeyID, "user_agent": perUserAgent, "source": perSource, "user": perUser, "venue": perVenue}

// limit is a compiled Spec.
type limit struct {
	name   string
	spec   Spec
	shadow bool
	block  bool    // rate "0": refuse everything that matches
	rate   float64 // tokens per second (0: no rate)
	burst  float64
	conc   int // 0: no concurrency cap
	per    per
	scope  string
	ua     *regexp.Regexp
	uaLit  string // literal prefix of an anchored User-Agent pattern
	source netip.Prefix
	route  *route
	// specificity orders refusals: the most specific refusing limit is
	// named when several refuse with the same wait.
	specificity int
	expires     time.Time
	replaces    []string
	state       *limitState // set when installed
}

// fieldError names the JSON field a problem is in.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func bad(field, format string, args ...any) error {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}

// ValidName reports whether name may name a limit set through the API:
// lower-case letters, digits, '-' and '_' (a plan's limits are named
// PLAN.LIMIT).
func ValidName(name string) bool {
	if name == "" || len(name) > maxNameLen {
		return false
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case (r == '-' || r == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// validStored accepts a user's name or a plan's PLAN.LIMIT.
func validStored(name string) bool {
	p, l, ok := strings.Cut(name, ".")
	if !ok {
		return ValidName(name)
	}
	return ValidName(p) && ValidName(l)
}

// Normalize checks s and turns its ttl into expires (relative to now); the
// result is what is stored.
func Normalize(s Spec, now time.Time) (Spec, error) {
	if s.TTL != "" {
		d, err := time.ParseDuration(s.TTL)
		if err != nil || d <= 0 || d > maxTTL {
			return s, bad("ttl", "must be a duration from 1s to 720h (e.g. 10m), not %q", s.TTL)
		}
		e := now.Add(d).UTC().Truncate(time.Millisecond)
		s.Expires, s.TTL = &e, ""
	}
	if s.Expires != nil && !s.Expires.After(now) {
		return s, bad("expires", "%s is in the past", s.Expires.Format(time.RFC3339))
	}
	if s.Action == "" {
		s.Action = ActionEnforce
	}
	if s.Scope == "" {
		s.Scope = ScopeProcess
	}
	_, err := compile("x", s)
	return s, err
}

// compile turns a Spec into a limit, naming the field of any problem.
func compile(name string, s Spec) (*limit, error) {
	l := &limit{name: name, spec: s, scope: s.Scope, replaces: s.Replaces}
	switch s.Action {
	case "", ActionEnforce:
	case ActionShadow:
		l.shadow = true
	default:
		return nil, bad("action", "must be %q or %q, not %q", ActionEnforce, ActionShadow, s.Action)
	}
	switch s.Scope {
	case "", ScopeProcess:
		l.scope = ScopeProcess
	case ScopeCluster:
	default:
		return nil, bad("scope", "must be %q or %q, not %q", ScopeProcess, ScopeCluster, s.Scope)
	}
	p, ok := perNames[s.Per]
	if !ok {
		return nil, bad("per", "must be one of client, key, user_agent, source, user, venue (or empty: one bucket), not %q", s.Per)
	}
	l.per = p
	if err := l.compileAmount(s); err != nil {
		return nil, err
	}
	if err := l.compileMatch(s.Match); err != nil {
		return nil, err
	}
	if len(s.Replaces) > maxReplaces {
		return nil, bad("replaces", "at most %d names", maxReplaces)
	}
	for i, r := range s.Replaces {
		if !validStored(r) {
			return nil, bad(fmt.Sprintf("replaces/%d", i), "%q is not a limit name", r)
		}
	}
	if s.Expires != nil {
		l.expires = *s.Expires
	}
	return l, nil
}

// compileAmount reads the rate, burst and concurrency.
func (l *limit) compileAmount(s Spec) error {
	if s.Concurrency < 0 || s.Concurrency > 1_000_000 {
		return bad("concurrency", "must be 1-1000000")
	}
	if s.Burst < 0 || s.Burst > 1_000_000 {
		return bad("burst", "must be 1-1000000")
	}
	l.conc = s.Concurrency
	switch {
	case s.Rate == "" && s.Concurrency == 0:
		return bad("rate", `a limit needs a rate ("10/s", "1/5s", "0" to block) or a concurrency`)
	case s.Rate == "":
		if s.Burst != 0 {
			return bad("burst", "needs a rate")
		}
		return nil
	case strings.TrimSpace(s.Rate) == "0":
		l.block = true
		return nil
	}
	count, period, err := ParseRate(s.Rate)
	if err != nil {
		return bad("rate", "%v", err)
	}
	l.rate = float64(count) / period.Seconds()
	l.burst = float64(max(s.Burst, 1))
	if s.Burst == 0 {
		l.burst = float64(max(count, 1))
	}
	return nil
}

// ParseRate reads COUNT/PERIOD: 10/s, 1/5s, 2000/s, 100/min, 3/h, 5/100ms.
func ParseRate(r string) (int, time.Duration, error) {
	c, p, ok := strings.Cut(strings.TrimSpace(r), "/")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not COUNT/PERIOD (e.g. 10/s, 1/5s, 100/min)", r)
	}
	count, err := strconv.Atoi(c)
	if err != nil || count < 1 || count > 10_000_000 {
		return 0, 0, fmt.Errorf("count %q must be 1-10000000 (write \"0\" alone to block)", c)
	}
	var period time.Duration
	switch p {
	case "s":
		period = time.Second
	case "min", "m":
		period = time.Minute
	case "h":
		period = time.Hour
	default:
		period, err = time.ParseDuration(p)
		if err != nil {
			return 0, 0, fmt.Errorf("period %q must be s, min, h or a duration such as 5s", p)
		}
	}
	if period < time.Millisecond || period > 24*time.Hour {
		return 0, 0, fmt.Errorf("period %q must be from 1ms to 24h", p)
	}
	if float64(count)/period.Seconds() > math.MaxInt32 {
		return 0, 0, fmt.Errorf("%q is too fast", r)
	}
	return count, period, nil
}

// compileMatch compiles the match and its specificity (one point per field
// set, and a narrower network counts more).
func (l *limit) compileMatch(m Match) error {
	for _, f := range []struct{ name, v string }{{"match.client", m.Client}, {"match.key_id", m.KeyID}, {"match.mqtt_user", m.MQTTUser}, {"match.venue", m.Venue}} {
		if len(f.v) > 256 {
			return bad(f.name, "at most 256 bytes")
		}
		if f.v != "" {
			l.specificity += 100
		}
	}
	if m.Anonymous {
		if m.MQTTUser != "" || m.Client != "" || m.KeyID != "" {
			return bad("match.anonymous", "an anonymous connection has no user, client or key")
		}
		l.specificity += 100
	}
	if m.UserAgent != "" {
		if err := l.compileUserAgent(m.UserAgent); err != nil {
			return err
		}
		l.specificity += 100
	}
	if m.Source != "" {
		p, err := parseSource(m.Source)
		if err != nil {
			return bad("match.source", "%v", err)
		}
		l.source = p
		l.specificity += 50 + p.Bits()/4
	}
	if m.Route != "" {
		r, err := parseRoute(m.Route)
		if err != nil {
			return bad("match.route", "%v", err)
		}
		l.route = r
		l.specificity += 100
	}
	return nil
}

func (l *limit) compileUserAgent(expr string) error {
	if len(expr) > maxRegexpLen {
		return bad("match.user_agent", "the pattern is at most %d bytes", maxRegexpLen)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return bad("match.user_agent", "not a regular expression (RE2 syntax): %v", err)
	}
	l.ua = re
	l.uaLit = anchoredPrefix(expr)
	return nil
}

// anchoredPrefix is the literal every match of expr starts the input with
// ("BadBot/" for "^BadBot/"), or "" when expr is not anchored that way.
func anchoredPrefix(expr string) string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return ""
	}
	re = re.Simplify()
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 || re.Sub[0].Op != syntax.OpBeginText {
		return ""
	}
	lit := re.Sub[1]
	if lit.Op != syntax.OpLiteral || lit.Flags&syntax.FoldCase != 0 {
		return ""
	}
	s := string(lit.Rune)
	if len(s) > 32 {
		s = s[:32]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

func parseSource(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a network (CIDR such as 203.0.113.0/24 or 2001:db8::/32)", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or network (CIDR)", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}
