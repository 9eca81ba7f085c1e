package exchange

import (
	"fmt"
	"net/url"
	"time"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

// Push is where a push subscription sends its events. The secret is
// stored (in the subscriptions bucket) but never returned or logged.
type Push struct {
	URL          string `json:"url"`
	Secret       string `json:"secret"`
	Timeout      string `json:"timeout"`
	MaxInFlight  int    `json:"max_in_flight"`
	OrderedByKey bool   `json:"ordered_by_key"`
}

type pushRequest struct {
	URL          string `json:"url"`
	Secret       string `json:"secret"`
	Timeout      string `json:"timeout"`
	MaxInFlight  int    `json:"max_in_flight"`
	OrderedByKey bool   `json:"ordered_by_key"`
}

const (
	defaultPushTimeout = 10 * time.Second
	defaultMaxInFlight = 16
	secretPrefix       = "whsec_"
)

// parsePush validates a push definition; the URL's host must be in the
// configuration's webhooks.allow.
func (x *Exchange) parsePush(req *pushRequest) (*Push, error) {
	if req == nil {
		return nil, nil
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, api.BadRequest("push.url must be an http or https URL without credentials")
	}
	if !x.cfg.Webhooks.Allows(u.Hostname(), u.Port()) {
		return nil, api.Forbidden(fmt.Sprintf("push.url: host %q is not in the configuration's webhooks.allow", u.Host))
	}
	if req.Secret != "" {
		if _, err := pushKey(req.Secret); err != nil {
			return nil, api.BadRequest("push.secret must be whsec_ followed by the base64 of 24-64 random bytes")
		}
	}
	p := &Push{URL: u.String(), Secret: req.Secret, Timeout: defaultPushTimeout.String(), MaxInFlight: defaultMaxInFlight, OrderedByKey: req.OrderedByKey}
	if req.Timeout != "" {
		d, err := time.ParseDuration(req.Timeout)
		if err != nil || d < time.Second || d > 5*time.Minute {
			return nil, api.BadRequest("push.timeout must be a duration from 1s to 5m")
		}
		p.Timeout = d.String()
	}
	if req.MaxInFlight != 0 {
		if req.MaxInFlight < 1 || req.MaxInFlight > 1000 {
			return nil, api.BadRequest("push.max_in_flight must be 1-1000")
		}
		p.MaxInFlight = req.MaxInFlight
	}
	return p, nil
}

func (p *Push) timeout() time.Duration {
	d, err := time.ParseDuration(p.Timeout)
	if err != nil {
		return defaultPushTimeout
	}
	return d
}

// pushKey decodes a whsec_ secret into the HMAC key.
func pushKey(secret string) ([]byte, error) { return config.WebhookKey(secret) }

// redacted is s as the API shows it: a push secret reads "set".
func (s Subscription) redacted() Subscription {
	if s.Push != nil {
		p := *s.Push
		if p.Secret != "" {
			p.Secret = "set"
		}
		s.Push = &p
	}
	return s
}
