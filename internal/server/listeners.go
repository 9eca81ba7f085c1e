package server

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// listener is one address a server bound, as the kernel reports it (the
// resolved port, the host it listens on), not as the flag asked.
type listener struct {
	Name string // API, engine, leafnodes, MQTT
	Addr string // host:port
}

// boundMap is the listeners keyed by name, as endpoints.json records them.
func boundMap(ls []listener) map[string]string {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Name] = l.Addr
	}
	return m
}

// urlHostPort is the host:port of a URL such as nats://127.0.0.1:4222,
// or "" for an empty or unparsable one.
func urlHostPort(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// ListenScope says who can reach addr: loopback, every interface, or one
// interface's address.
func ListenScope(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "unknown"
	}
	ip := net.ParseIP(host)
	switch {
	case host == "localhost" || ip != nil && ip.IsLoopback():
		return "loopback"
	case host == "" || ip != nil && ip.IsUnspecified():
		return "every interface"
	}
	return "interface " + host
}

// DescribeListeners is the banner's line about who can connect: loopback
// only (the default), or each listener with its scope when any is open to
// other machines.
// hint names the flag that opens the network.
func DescribeListeners(ls []listener, hint string) string {
	open := false
	parts := make([]string, 0, len(ls))
	for _, l := range ls {
		if ListenScope(l.Addr) != "loopback" {
			open = true
		}
	}
	for _, l := range ls {
		if open {
			parts = append(parts, fmt.Sprintf("%s %s (%s)", l.Name, l.Addr, ListenScope(l.Addr)))
		} else {
			parts = append(parts, l.Name+" "+l.Addr)
		}
	}
	if !open {
		return strings.Join(parts, ", ") + ": this machine only (" + hint + ")"
	}
	return strings.Join(parts, ", ")
}
