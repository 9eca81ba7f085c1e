package config

import (
	"fmt"
	"net"
	"strings"
)

// Webhooks limits where push subscriptions may send events, so that an
// API client cannot make stadion call arbitrary internal addresses.
type Webhooks struct {
	// Allow lists the hosts webhooks may target: a name or IP matches
	// that host on any port, host:port only that port. Empty allows none.
	Allow []string `yaml:"allow"`
}

// Allows reports whether a webhook URL's host (with its port, which may
// be empty) is in the allow-list.
func (w Webhooks) Allows(host, port string) bool {
	host = strings.ToLower(strings.Trim(host, "[]"))
	for _, a := range w.Allow {
		a = strings.ToLower(a)
		if h, p, err := net.SplitHostPort(a); err == nil {
			if strings.Trim(h, "[]") == host && p == port {
				return true
			}
			continue
		}
		if strings.Trim(a, "[]") == host {
			return true
		}
	}
	return false
}

func (c *Config) validateWebhooks() []error {
	var errs []error
	for i, a := range c.Webhooks.Allow {
		if a == "" || strings.ContainsAny(a, "/ *?#@") {
			errs = append(errs, fieldErr(fmt.Sprintf("webhooks.allow[%d]", i), "must be a host or host:port, not %q", a))
		}
	}
	return errs
}
