package limits

import (
	"fmt"
	"strings"
)

// route is a compiled route pattern: a method ("" for any) and segments,
// where "*" (or MQTT's "+") is any one segment and a final "**" (or "#")
// is any rest.
type route struct {
	method string
	segs   []string
	trie   *routeNode // this pattern alone, for checking one limit
}

// MQTT events are matched as routes with these methods; their path is the
// topic ("" for CONNECT).
const (
	MethodConnect = "CONNECT"
	MethodPublish = "PUBLISH"
)

func parseRoute(s string) (*route, error) {
	if len(s) > maxRouteLen {
		return nil, fmt.Errorf("at most %d bytes", maxRouteLen)
	}
	method, path, hasPath := strings.Cut(strings.TrimSpace(s), " ")
	if strings.HasPrefix(method, "/") {
		method, path, hasPath = "", method, true
	}
	for _, r := range method {
		if r < 'A' || r > 'Z' {
			return nil, fmt.Errorf("%q: write METHOD /path (e.g. POST /v1/topics/*/events), /path, CONNECT or PUBLISH topic/*", s)
		}
	}
	path = strings.TrimSpace(path)
	switch {
	case method == MethodConnect:
		if hasPath && path != "" {
			return nil, fmt.Errorf("%q: CONNECT takes no topic", s)
		}
		return &route{method: method, trie: &routeNode{limits: []*limit{nil}}}, nil
	case method == MethodPublish:
		if path == "" || strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("%q: PUBLISH needs a topic such as live/*/post", s)
		}
	case !strings.HasPrefix(path, "/"):
		return nil, fmt.Errorf("%q: an HTTP route's path starts with / (e.g. POST /v1/topics/*/events)", s)
	default:
		path = path[1:]
	}
	segs := strings.Split(path, "/")
	for i, g := range segs {
		switch g {
		case "+":
			segs[i] = "*"
		case "#":
			segs[i] = "**"
		}
		if segs[i] == "**" && i != len(segs)-1 {
			return nil, fmt.Errorf("%q: ** (or #) only at the end", s)
		}
	}
	rt := &route{method: method, segs: segs, trie: &routeNode{}}
	rt.trie.add(segs, nil)
	return rt, nil
}

// routeNode is a node of the route trie.
type routeNode struct {
	lit    map[string]*routeNode
	star   *routeNode
	rest   []*limit // patterns ending in ** here
	limits []*limit // patterns ending exactly here
}

func (n *routeNode) add(segs []string, l *limit) {
	for _, g := range segs {
		if g == "**" {
			n.rest = append(n.rest, l)
			return
		}
		var next *routeNode
		if g == "*" {
			if n.star == nil {
				n.star = &routeNode{}
			}
			next = n.star
		} else {
			if n.lit == nil {
				n.lit = map[string]*routeNode{}
			}
			if next = n.lit[g]; next == nil {
				next = &routeNode{}
				n.lit[g] = next
			}
		}
		n = next
	}
	n.limits = append(n.limits, l)
}

// match appends the limits whose pattern matches path (segments separated
// by '/', no leading '/'), without allocating for the walk.
func (n *routeNode) match(path string, out []*limit) []*limit {
	out = append(out, n.rest...)
	seg, rest, more := strings.Cut(path, "/")
	if !more && seg == "" && path == "" {
		return append(out, n.limits...)
	}
	if next := n.lit[seg]; next != nil {
		out = next.walk(rest, more, out)
	}
	if n.star != nil && seg != "" {
		out = n.star.walk(rest, more, out)
	}
	return out
}

func (n *routeNode) walk(rest string, more bool, out []*limit) []*limit {
	if !more {
		out = append(out, n.rest...)
		return append(out, n.limits...)
	}
	return n.match(rest, out)
}
