package client

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
)

// LimitPath is the path of a runtime limit.
func LimitPath(name string) string { return "/v1/limits/" + url.PathEscape(name) }

// PlanPath is the path of a plan's resource, suffix appended.
func PlanPath(name, suffix string) string { return "/v1/plans/" + url.PathEscape(name) + suffix }

// LimitRow is one limit as GET /v1/limits lists it.
type LimitRow struct {
	Name string `json:"name"`
	config.LimitSpec
	Plan    string    `json:"plan,omitempty"`
	By      string    `json:"by,omitempty"`
	Updated time.Time `json:"updated"`
}

// LimitCounts are one limit's counts, summed over the processes.
type LimitCounts struct {
	Matched       int64 `json:"matched"`
	Limited       int64 `json:"limited"`
	ShadowLimited int64 `json:"shadow_limited"`
}

// LimitList is GET /v1/limits (?counts=true fills Counts).
type LimitList struct {
	Limits    []LimitRow             `json:"limits"`
	Max       int                    `json:"max"`
	Counts    map[string]LimitCounts `json:"counts"`
	Processes int                    `json:"processes"`
}

// PlanEvent is one application or reversal of a plan.
type PlanEvent struct {
	Plan   string    `json:"plan"`
	Action string    `json:"action"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Limits []string  `json:"limits"`
}

// PlanRow is one plan as GET /v1/plans lists it.
type PlanRow struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Limits      []string   `json:"limits"`
	Applied     bool       `json:"applied"`
	Last        *PlanEvent `json:"last"`
}

// PlanDetail is GET /v1/plans/{name}: the plan's limits (by name within
// the plan) and its recorded applications and reversals, oldest first.
type PlanDetail struct {
	Name        string                      `json:"name"`
	Description string                      `json:"description"`
	Limits      map[string]config.LimitSpec `json:"limits"`
	History     []PlanEvent                 `json:"history"`
}

// PlanDryRun is POST /v1/plans/{name}/apply?dry_run=true.
type PlanDryRun struct {
	Plan    string `json:"plan"`
	Window  string `json:"window"`
	Changes []struct {
		Limit    string `json:"limit"`
		Change   string `json:"change"`
		Action   string `json:"action"`
		Estimate struct {
			Matched     float64 `json:"matched"`
			Refused     float64 `json:"refused"`
			Concurrency bool    `json:"concurrency_not_estimated"`
		} `json:"estimate"`
	} `json:"changes"`
	Sampled int64  `json:"sampled_requests"`
	Answers int    `json:"processes_answered"`
	Peers   int    `json:"processes"`
	Note    string `json:"note"`
}

// DescribeMatch writes a limit's match in one line (user_agent=^BadBot/ route=...).
func DescribeMatch(m config.LimitMatch) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("client", m.Client)
	add("key_id", m.KeyID)
	add("user_agent", m.UserAgent)
	add("source", m.Source)
	add("route", m.Route)
	add("mqtt_user", m.MQTTUser)
	add("venue", m.Venue)
	if m.Anonymous {
		parts = append(parts, "anonymous")
	}
	if len(parts) == 0 {
		return "(everything)"
	}
	return strings.Join(parts, " ")
}

// DescribeAmount writes a limit's rate, burst and concurrency.
func DescribeAmount(s config.LimitSpec) string {
	var parts []string
	switch {
	case strings.TrimSpace(s.Rate) == "0":
		parts = append(parts, "block")
	case s.Rate != "":
		parts = append(parts, s.Rate)
		if s.Burst > 0 {
			parts = append(parts, fmt.Sprintf("burst %d", s.Burst))
		}
	}
	if s.Concurrency > 0 {
		parts = append(parts, fmt.Sprintf("%d at once", s.Concurrency))
	}
	if s.Per != "" {
		parts = append(parts, "per "+s.Per)
	}
	if s.Scope == "cluster" {
		parts = append(parts, "cluster-wide")
	}
	return strings.Join(parts, ", ")
}
