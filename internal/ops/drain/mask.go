// Package drain is an online log-template miner in the manner of Drain (He
// et al., ICWS 2017): lines are masked (ids, numbers, addresses, hex,
// UUIDs, keys and tokens become placeholders), split into tokens and
// routed through a fixed-depth parse tree (token count, then the first
// tokens) to a leaf whose templates are compared by token similarity. A
// line joins the most similar template above a threshold, which turns the
// differing tokens into wildcards; otherwise it starts a new template.
//
// It knows nothing of stadion: internal/ops feeds it log lines and
// advisories. Any package may import it. A Miner is not safe for
// concurrent use; callers serialise.
package drain

import "strings"

// Placeholders the masker writes in place of variable parts.
const (
	Wildcard = "<*>"
	maskNum  = "<NUM>"
	maskIP   = "<IP>"
	maskHex  = "<HEX>"
	maskUUID = "<UUID>"
	maskKey  = "<KEY>"
)

// secretKeys are key=value keys whose value is always masked, whatever it
// looks like: the miner keeps examples, and examples are served.
var secretKeys = []string{"key", "token", "secret", "password", "passwd", "pwd", "authorization", "auth", "credential", "credentials", "creds", "signature", "sig", "cookie", "bearer", "apikey", "api_key", "jwt", "seed", "nkey"}

// Tokenize splits a line into at most max tokens on blanks and masks each;
// it reports how many tokens were dropped past max. A token following
// "Bearer" or of the form secretkey=value is masked as a key whatever it
// looks like.
func Tokenize(line string, max int, dst []string) ([]string, int) {
	dst = dst[:0]
	dropped := 0
	prevBearer := false
	start := -1
	emit := func(f string) {
		if len(dst) >= max {
			dropped++
			return
		}
		t := MaskToken(f)
		if prevBearer {
			t = maskKey
		}
		prevBearer = strings.EqualFold(f, "bearer") || strings.EqualFold(f, "basic")
		dst = append(dst, t)
	}
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case ' ', '\t', '\n', '\r', '\v', '\f':
			if start >= 0 {
				emit(line[start:i])
				start = -1
			}
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		emit(line[start:])
	}
	return dst, dropped
}

// MaskToken replaces a token's variable part by a placeholder. key=value
// tokens keep the key and mask the value; surrounding punctuation
// (quotes, brackets, a trailing comma or colon) is kept.
func MaskToken(tok string) string {
	if k, v, ok := strings.Cut(tok, "="); ok && k != "" && !strings.ContainsAny(k, "\"'") {
		if isSecretKey(k) && v != "" {
			return k + "=" + maskKey
		}
		if v == "" {
			return tok
		}
		if m := MaskToken(v); m != v {
			return k + "=" + m
		}
		return tok
	}
	if isIP(tok) {
		return maskIP
	}
	lead, core, trail := trimPunct(tok)
	if core == "" {
		return tok
	}
	if m := maskCore(core); m != "" {
		return lead + m + trail
	}
	return tok
}

func isSecretKey(k string) bool {
	k = strings.TrimLeft(k, "-\"'[{(")
	for _, s := range secretKeys {
		if len(k) < len(s) || !strings.EqualFold(k[len(k)-len(s):], s) {
			continue
		}
		// The whole key, or its last part after _, - or . (dsn_password).
		if n := len(k) - len(s); n == 0 || strings.IndexByte("_-.", k[n-1]) >= 0 {
			return true
		}
	}
	return false
}

func trimPunct(t string) (lead, core, trail string) {
	i, j := 0, len(t)
	for i < j && strings.IndexByte("\"'([{<", t[i]) >= 0 {
		i++
	}
	for j > i && strings.IndexByte("\"')]}>,;:.", t[j-1]) >= 0 {
		j--
	}
	return t[:i], t[i:j], t[j:]
}

// maskCore returns the placeholder for a bare token, or "" to keep it.
func maskCore(c string) string {
	switch {
	case isUUID(c):
		return maskUUID
	case isIP(c):
		return maskIP
	case isNumber(c):
		return maskNum
	case isHex(c):
		return maskHex
	case isKeyLike(c):
		return maskKey
	case mostlyDigits(c):
		return maskNum
	}
	return ""
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
func isHexDigit(b byte) bool {
	return isDigit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
		} else if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

// isIP accepts dotted IPv4 with an optional :port or /prefix, IPv6 in
// brackets or bare (two or more colons, hex groups), and host:port with a
// numeric port.
func isIP(s string) bool {
	if strings.IndexByte(s, '.') < 0 && strings.IndexByte(s, ':') < 0 {
		return false
	}
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		return end > 1 && isIPv6(s[1:end]) && (end == len(s)-1 || s[end+1] == ':' && allDigits(s[end+2:]))
	}
	if strings.Count(s, ":") >= 2 {
		return isIPv6(s)
	}
	host, port, hasPort := strings.Cut(s, ":")
	if hasPort && !allDigits(port) {
		return false
	}
	if p, _, ok := strings.Cut(host, "/"); ok {
		host = p
	}
	if isIPv4(host) {
		return true
	}
	// name:port (e.g. nats-1:4222) is an address too.
	return hasPort && host != "" && strings.IndexByte(host, '.') >= 0 && isHostname(host)
}

func isIPv4(s string) bool {
	parts, n := 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if n == 0 || n > 3 {
				return false
			}
			parts, n = parts+1, 0
			continue
		}
		if !isDigit(s[i]) {
			return false
		}
		n++
	}
	return parts == 4
}

func isIPv6(s string) bool {
	s, _, _ = strings.Cut(s, "%") // a zone: fe80::1%eth0
	if strings.Count(s, ":") < 2 {
		return false
	}
	hex := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ':' || c == '.':
		case isHexDigit(c):
			hex++
		default:
			return false
		}
	}
	return hex > 0
}

func isHostname(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '-' || isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// isNumber accepts integers, decimals, signs and a short unit suffix
// (12ms, 1.5s, 10KiB, 3x, 45%).
func isNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := 0
	for i < len(s) && (isDigit(s[i]) || s[i] == '.' || s[i] == '_') {
		if isDigit(s[i]) {
			digits++
		}
		i++
	}
	if digits == 0 {
		return false
	}
	unit := s[i:]
	if len(unit) > 3 {
		return false
	}
	for j := 0; j < len(unit); j++ {
		c := unit[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '%' || c == 'µ') {
			return false
		}
	}
	return true
}

// isHex accepts 0x-prefixed hex and bare hex of 8+ characters with a digit.
func isHex(s string) bool {
	digit := false
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		s, digit = s[2:], true
	} else if len(s) < 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
		digit = digit || isDigit(s[i])
	}
	return digit
}

// isKeyLike accepts what looks like a generated identifier or secret: 16+
// characters of letters, digits and -_+/= with both letters and digits,
// or any token carrying a known secret prefix.
func isKeyLike(s string) bool {
	for _, p := range []string{"whsec_", "sk_", "sk-", "ghp_", "xox", "eyJ", "SU", "stk_"} {
		if strings.HasPrefix(s, p) && len(s) >= len(p)+16 {
			return true
		}
	}
	if len(s) < 16 {
		return false
	}
	letters, digits := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c):
			digits++
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters++
		case c == '-' || c == '_' || c == '+' || c == '/' || c == '=':
		default:
			return false
		}
	}
	return letters > 0 && digits > 0
}

// mostlyDigits accepts identifiers built around numbers (blk_-1608999687919862906,
// 2016/9/27, 00:01, v6.1.7601): at least a third of the characters are digits.
func mostlyDigits(s string) bool {
	d := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			d++
		}
	}
	return d > 0 && 3*d >= len(s)
}
