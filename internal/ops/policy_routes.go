package ops

import (
	"slices"
	"strings"
)

// Class is what a route does, which decides who may call it with a key of
// the admin client and whether it is a change (audited, held under a
// freeze).
type Class int

const (
	// Open routes take no API key (probes, viewers' pages and posts with
	// viewer tokens, /metrics behind its own guard): the policy does not
	// see them.
	Open Class = iota
	// Read changes nothing: every role.
	Read
	// Use moves data, not configuration (publish, pull and ack, run a
	// capture or an inspection now, mint viewer tokens): operator and
	// admin; not audited, never held.
	Use
	// Operate is a control of the day (pause a sink, revoke a key, set a
	// room's state, apply a plan): operator and admin; audited; held
	// under a freeze.
	Operate
	// Admin changes configuration (keys, subscriptions, capture jobs,
	// tickets and venue credentials, freezes): admin only; audited;
	// held under a freeze.
	Admin
)

func (c Class) String() string {
	return [...]string{"open", "read", "use", "operate", "admin"}[c]
}

// role is the weakest admin-key role a class needs.
func (c Class) role() string {
	switch c {
	case Operate, Use:
		return "operator"
	case Admin:
		return "admin"
	}
	return "viewer"
}

// Rule classifies one route.
type Rule struct {
	Class Class
	// Area is the part of stadion the route changes, as a freeze's scope
	// names it.
	Area string
	// Resource is the path of the GET route that shows what the route
	// changes ({name} filled from the request's path), read before and
	// after the change for the audit trail; "" when there is none.
	Resource string
	// Unfrozen: allowed under a freeze (emergency plans, approvals), and
	// still audited.
	Unfrozen bool
	// AnyFreeze: held under any open freeze, whatever its scope (making
	// admin keys and changing freezes, which would otherwise let one
	// person approve their own change).
	AnyFreeze bool
	// Quiet: not audited itself, because what it runs is (an approval
	// runs the held change, whose entry names both people).
	Quiet bool
}

// Change reports whether the route changes something.
func (r Rule) Change() bool { return r.Class >= Operate }

// Table classifies every route of `stadion up`, by its pattern. A route
// missing here is refused to every key (TestEveryRouteClassified walks
// the running server's routes). Adding a route is one line.
var Table = map[string]Rule{
	// system
	"GET /healthz": {Class: Open}, "GET /readyz": {Class: Open}, "GET /metrics": {Class: Open}, "/": {Class: Open},
	"GET /v1/cluster": {Class: Read, Area: "cluster"},

	// keys
	"GET /v1/clients/{client}/keys":         {Class: Read, Area: "keys"},
	"POST /v1/clients/{client}/keys":        {Class: Admin, Area: "keys", Resource: "/v1/clients/{client}/keys", AnyFreeze: true},
	"POST /v1/clients/admin/keys/reissue":   {Class: Admin, Area: "keys", Resource: "/v1/clients/admin/keys", AnyFreeze: true},
	"DELETE /v1/clients/{client}/keys/{id}": {Class: Operate, Area: "keys", Resource: "/v1/clients/{client}/keys"},

	// exchange: topics and subscriptions
	"GET /v1/topics":                                     {Class: Read, Area: "exchange"},
	"GET /v1/topics/{topic}":                             {Class: Read, Area: "exchange"},
	"GET /v1/topics/{topic}/events":                      {Class: Read, Area: "exchange"},
	"GET /v1/topics/{topic}/stream":                      {Class: Read, Area: "exchange"},
	"GET /v1/topics/{topic}/snapshot":                    {Class: Read, Area: "exchange"},
	"GET /v1/topics/{topic}/schema":                      {Class: Read, Area: "exchange"},
	"POST /v1/topics/{topic}/events":                     {Class: Use, Area: "exchange"},
	"GET /v1/subscriptions":                              {Class: Read, Area: "exchange"},
	"GET /v1/subscriptions/{name}":                       {Class: Read, Area: "exchange"},
	"PUT /v1/subscriptions/{name}":                       {Class: Admin, Area: "exchange", Resource: "/v1/subscriptions/{name}"},
	"DELETE /v1/subscriptions/{name}":                    {Class: Admin, Area: "exchange", Resource: "/v1/subscriptions/{name}"},
	"POST /v1/subscriptions/{name}/pull":                 {Class: Use, Area: "exchange"},
	"POST /v1/subscriptions/{name}/ack":                  {Class: Use, Area: "exchange"},
	"POST /v1/subscriptions/{name}/nack":                 {Class: Use, Area: "exchange"},
	"GET /v1/subscriptions/{name}/dead-letters":          {Class: Read, Area: "exchange"},
	"POST /v1/subscriptions/{name}/dead-letters/redrive": {Class: Operate, Area: "exchange", Resource: "/v1/subscriptions/{name}"},
	"DELETE /v1/subscriptions/{name}/dead-letters":       {Class: Operate, Area: "exchange", Resource: "/v1/subscriptions/{name}"},

	// sinks
	"GET /v1/sinks":                              {Class: Read, Area: "sinks"},
	"GET /v1/sinks/{name}":                       {Class: Read, Area: "sinks"},
	"POST /v1/sinks/{name}/pause":                {Class: Operate, Area: "sinks", Resource: "/v1/sinks/{name}"},
	"POST /v1/sinks/{name}/resume":               {Class: Operate, Area: "sinks", Resource: "/v1/sinks/{name}"},
	"GET /v1/sinks/{name}/dead-letters":          {Class: Read, Area: "sinks"},
	"DELETE /v1/sinks/{name}/dead-letters":       {Class: Operate, Area: "sinks", Resource: "/v1/sinks/{name}"},
	"POST /v1/sinks/{name}/dead-letters/redrive": {Class: Operate, Area: "sinks", Resource: "/v1/sinks/{name}"},

	// live comments
	"POST /v1/live/tokens":          {Class: Use, Area: "live"},
	"POST /v1/live/revocations":     {Class: Operate, Area: "live"},
	"PUT /v1/live/{room}":           {Class: Operate, Area: "live", Resource: "/v1/live/{room}"},
	"PUT /v1/live/{room}/pinned":    {Class: Operate, Area: "live", Resource: "/v1/live/{room}"},
	"DELETE /v1/live/{room}/pinned": {Class: Operate, Area: "live", Resource: "/v1/live/{room}"},
	"POST /v1/live/{room}/comments": {Class: Open},
	"GET /v1/live/{room}/comments":  {Class: Open},
	"GET /v1/live/{room}":           {Class: Open},
	"GET /mqtt":                     {Class: Open},
	"GET /v1/live/{room}/pinned":    {Class: Open},
	// The console's page and assets, and the API's index and description:
	// no key (the page signs in; the index names nothing of the
	// configuration).
	"GET /{$}": {Class: Open}, "GET /console/{file}": {Class: Open},
	"GET /v1": {Class: Open}, "GET /v1/openapi.json": {Class: Open},
	// The console's data: what the key may see, filtered per key.
	"GET /v1/console":        {Class: Read, Area: "console"},
	"GET /v1/console/series": {Class: Read, Area: "console"},
	"GET /v1/console/feed":   {Class: Read, Area: "console"},
	"GET /live/{room}":       {Class: Open},

	// gate: tickets and venues
	"POST /v1/tickets":                      {Class: Admin, Area: "gate"},
	"GET /v1/tickets/{id}":                  {Class: Read, Area: "gate"},
	"POST /v1/tickets/{id}/revoke":          {Class: Operate, Area: "gate", Resource: "/v1/tickets/{id}"},
	"GET /v1/tickets/keys":                  {Class: Read, Area: "gate"},
	"POST /v1/tickets/keys/rotate":          {Class: Admin, Area: "gate", Resource: "/v1/tickets/keys"},
	"POST /v1/tickets/keys/{kid}/retire":    {Class: Admin, Area: "gate", Resource: "/v1/tickets/keys"},
	"GET /v1/venues":                        {Class: Read, Area: "gate"},
	"GET /v1/venues/{venue}":                {Class: Read, Area: "gate"},
	"POST /v1/venues/{venue}/credentials":   {Class: Admin, Area: "gate", Resource: "/v1/venues/{venue}"},
	"DELETE /v1/venues/{venue}/credentials": {Class: Operate, Area: "gate", Resource: "/v1/venues/{venue}"},
	"GET /v1/venues/{venue}/status":         {Class: Read, Area: "gate"},
	"GET /v1/venues/{venue}/logs":           {Class: Read, Area: "gate"},
	"GET /v1/venues/{venue}/anomalies":      {Class: Read, Area: "gate"},

	// capture
	"GET /v1/capture/jobs":                          {Class: Read, Area: "capture"},
	"GET /v1/capture/jobs/{job}":                    {Class: Read, Area: "capture"},
	"PUT /v1/capture/jobs/{job}":                    {Class: Admin, Area: "capture", Resource: "/v1/capture/jobs/{job}"},
	"DELETE /v1/capture/jobs/{job}":                 {Class: Admin, Area: "capture", Resource: "/v1/capture/jobs/{job}"},
	"POST /v1/capture/jobs/{job}/trigger":           {Class: Use, Area: "capture"},
	"GET /v1/capture/jobs/{job}/latest":             {Class: Read, Area: "capture"},
	"GET /v1/capture/jobs/{job}/frames":             {Class: Read, Area: "capture"},
	"GET /v1/capture/jobs/{job}/frames/{id}/{file}": {Class: Read, Area: "capture"},

	// ops: health, inspections, SLOs, alerts, anomalies
	"GET /v1/health":           {Class: Read, Area: "ops"},
	"POST /v1/inspections":     {Class: Use, Area: "ops"},
	"GET /v1/inspections":      {Class: Read, Area: "ops"},
	"GET /v1/inspections/{id}": {Class: Read, Area: "ops"},
	"GET /v1/slos":             {Class: Read, Area: "ops"},
	"GET /v1/alerts":           {Class: Read, Area: "ops"},
	"GET /v1/anomalies":        {Class: Read, Area: "ops"},

	// emergency controls: limits and plans (branch limits), freezes,
	// approvals, the audit trail
	"GET /v1/limits":                  {Class: Read, Area: "limits"},
	"GET /v1/limits/{name}":           {Class: Read, Area: "limits"},
	"PUT /v1/limits/{name}":           {Class: Operate, Area: "limits", Resource: "/v1/limits/{name}"},
	"DELETE /v1/limits/{name}":        {Class: Operate, Area: "limits", Resource: "/v1/limits/{name}"},
	"GET /v1/plans":                   {Class: Read, Area: "plans"},
	"GET /v1/plans/{name}":            {Class: Read, Area: "plans"},
	"PUT /v1/plans/{name}":            {Class: Admin, Area: "plans", Resource: "/v1/plans/{name}"},
	"DELETE /v1/plans/{name}":         {Class: Admin, Area: "plans", Resource: "/v1/plans/{name}"},
	"POST /v1/plans/{name}/apply":     {Class: Operate, Area: "plans", Resource: "/v1/plans/{name}", Unfrozen: true},
	"POST /v1/plans/{name}/revert":    {Class: Operate, Area: "plans", Resource: "/v1/plans/{name}", Unfrozen: true},
	"GET /v1/freezes":                 {Class: Read, Area: "freezes"},
	"GET /v1/freezes/{name}":          {Class: Read, Area: "freezes"},
	"PUT /v1/freezes/{name}":          {Class: Admin, Area: "freezes", Resource: "/v1/freezes/{name}", AnyFreeze: true},
	"DELETE /v1/freezes/{name}":       {Class: Admin, Area: "freezes", Resource: "/v1/freezes/{name}", AnyFreeze: true},
	"GET /v1/approvals":               {Class: Read, Area: "approvals"},
	"GET /v1/approvals/{id}":          {Class: Read, Area: "approvals"},
	"POST /v1/approvals/{id}/approve": {Class: Operate, Area: "approvals", Unfrozen: true, Quiet: true},
	"POST /v1/approvals/{id}/reject":  {Class: Operate, Area: "approvals", Resource: "/v1/approvals/{id}", Unfrozen: true},
	"GET /v1/audit":                   {Class: Read, Area: "audit"},
}

// FreezeAreas are the areas a freeze's scope may name.
func FreezeAreas() []string {
	var out []string
	for _, r := range Table {
		if r.Change() && !r.Unfrozen && r.Area != "" && !slices.Contains(out, r.Area) {
			out = append(out, r.Area)
		}
	}
	slices.SortFunc(out, strings.Compare)
	return out
}
