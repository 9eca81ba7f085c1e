package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/config"
)

// LimitSpecOf is the limit `stadion limits set` sends: file's (JSON, "-"
// reads stdin) with the flags that were given (set, by flag name) on top.
func LimitSpecOf(stdin io.Reader, file string, set map[string]bool, flags config.LimitSpec, shadow bool, replaces string) (config.LimitSpec, error) {
	var s config.LimitSpec
	if file != "" {
		var raw []byte
		var err error
		if file == "-" {
			raw, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
		} else {
			raw, err = os.ReadFile(file)
		}
		if err != nil {
			return s, err
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return s, fmt.Errorf("--file %s: %w", file, err)
		}
	}
	pick := func(name string, dst *string, v string) {
		if set[name] {
			*dst = v
		}
	}
	pick("user-agent", &s.Match.UserAgent, flags.Match.UserAgent)
	pick("client", &s.Match.Client, flags.Match.Client)
	pick("key-id", &s.Match.KeyID, flags.Match.KeyID)
	pick("source", &s.Match.Source, flags.Match.Source)
	pick("route", &s.Match.Route, flags.Match.Route)
	pick("mqtt-user", &s.Match.MQTTUser, flags.Match.MQTTUser)
	pick("venue", &s.Match.Venue, flags.Match.Venue)
	pick("rate", &s.Rate, flags.Rate)
	pick("per", &s.Per, flags.Per)
	pick("scope", &s.Scope, flags.Scope)
	pick("ttl", &s.TTL, flags.TTL)
	pick("description", &s.Description, flags.Description)
	if set["anonymous"] {
		s.Match.Anonymous = flags.Match.Anonymous
	}
	if set["burst"] {
		s.Burst = flags.Burst
	}
	if set["concurrency"] {
		s.Concurrency = flags.Concurrency
	}
	if set["shadow"] {
		s.Action = map[bool]string{true: "shadow", false: "enforce"}[shadow]
	}
	if set["replaces"] {
		s.Replaces = strings.Split(replaces, ",")
	}
	if s.Rate == "" && s.Concurrency == 0 {
		return s, cmdio.UsageErr("give --rate (e.g. 10/s, or 0 to block) or --concurrency")
	}
	return s, nil
}

// LimitRate is one limit's hits per second between two reads.
type LimitRate struct {
	Limit         string  `json:"limit"`
	Matched       float64 `json:"matched_per_s"`
	Limited       float64 `json:"limited_per_s"`
	ShadowLimited float64 `json:"shadow_limited_per_s"`
}

// WatchLimits reads the limits' counts every interval (count times, 0:
// until ctx ends) and calls show with the limits hit since the read before.
func (r *Client) WatchLimits(ctx context.Context, every time.Duration, count int, show func(LimitList, []LimitRate)) error {
	var prev map[string]LimitCounts
	last := time.Now()
	for i := 0; count == 0 || i <= count; i++ {
		var out LimitList
		if err := r.Do(ctx, "GET", "/v1/limits?counts=true", "", nil, nil, &out); err != nil {
			return err
		}
		now := time.Now()
		if prev != nil {
			show(out, limitRates(out, prev, now.Sub(last).Seconds()))
		}
		prev, last = out.Counts, now
		if count != 0 && i == count {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
	return nil
}

// limitRates are the rates of the limits hit between prev and out, by name.
func limitRates(out LimitList, prev map[string]LimitCounts, secs float64) []LimitRate {
	var rows []LimitRate
	for _, n := range slices.Sorted(maps.Keys(out.Counts)) {
		c, p := out.Counts[n], prev[n]
		rw := LimitRate{n, float64(c.Matched-p.Matched) / secs, float64(c.Limited-p.Limited) / secs, float64(c.ShadowLimited-p.ShadowLimited) / secs}
		if rw.Matched > 0 || rw.Limited > 0 || rw.ShadowLimited > 0 {
			rows = append(rows, rw)
		}
	}
	return rows
}
