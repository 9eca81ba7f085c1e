package ops

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
)

// WriteHTML writes the report as one self-contained page: no scripts, no
// outside resources; trends are inline SVG.
func WriteHTML(w io.Writer, r Inspection) error {
	return page.Execute(w, r)
}

// sparkline is an SVG polyline's points for values in a 160×32 box.
func sparkline(vs []float64) string {
	if len(vs) == 0 {
		return ""
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	span := hi - lo
	if span == 0 {
		span = 1
	}
	var b strings.Builder
	for i, v := range vs {
		x := 0.0
		if len(vs) > 1 {
			x = 160 * float64(i) / float64(len(vs)-1)
		}
		y := 30 - 28*(v-lo)/span
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
	}
	return strings.TrimSpace(b.String())
}

var page = template.Must(template.New("inspection").Funcs(template.FuncMap{
	"spark": sparkline,
	"num":   func(v float64) string { return fmt.Sprintf("%.3g", v) },
	"lower": strings.ToLower,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>stadion inspection {{.ID}}: {{.Grade}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
.g{font-weight:bold;padding:0 .4em;border-radius:3px}.ga{background:#cfc}.gb{background:#dfd}.gc{background:#ffc}.gd{background:#fdb}.gf{background:#f99}
.high{color:#b00}.medium{color:#a60}svg{vertical-align:middle}
</style></head><body>
<h1>stadion inspection <span id="score">{{printf "%.0f" .Score}}</span> <span id="grade" class="g g{{lower .Grade}}">{{.Grade}}</span></h1>
<p>Run at {{.At.Format "2006-01-02 15:04:05 UTC"}} (report {{.ID}}).{{if .Changes.Previous}} Since {{.Changes.Previous}}: score {{printf "%+.1f" .Changes.ScoreDelta}}, {{len .Changes.New}} new finding(s), {{len .Changes.Resolved}} resolved.{{else}} No previous report to compare with.{{end}}</p>
<h2>Sites</h2>
<table id="sites"><tr><th>site</th><th>score</th><th>grade</th><th>components</th></tr>
{{range .Sites}}<tr><td>{{.Name}}</td><td>{{printf "%.0f" .Score}}</td><td><span class="g g{{lower .Grade}}">{{.Grade}}</span></td><td>{{range $n, $g := .Components}}{{$n}} <b>{{$g}}</b>; {{end}}</td></tr>
{{end}}</table>
<h2>Risks (by impact on the site's score)</h2>
<table id="risks"><tr><th>site</th><th>component</th><th>check</th><th>value</th><th>warn</th><th>crit</th><th>score</th><th>impact</th><th>detail</th></tr>
{{range .Risks}}<tr><td>{{.Site}}</td><td>{{.Component}}</td><td>{{.Check}}</td><td>{{num .Value}} {{.Unit}}</td><td>{{num .Warn}}</td><td>{{num .Crit}}</td><td>{{printf "%.0f" .Score}}</td><td>{{printf "%.1f" .Impact}}</td><td>{{.Detail}}</td></tr>
{{else}}<tr><td colspan="9">No risks: every check is within its thresholds.</td></tr>
{{end}}</table>
<h2>Findings</h2>
<table id="findings"><tr><th>severity</th><th>code</th><th>subject</th><th>message</th></tr>
{{range .Findings}}<tr class="{{.Severity}}"><td>{{.Severity}}</td><td>{{.Code}}</td><td>{{.Subject}}</td><td>{{.Message}}</td></tr>
{{else}}<tr><td colspan="4">No findings.</td></tr>
{{end}}</table>
{{if not .SLOs}}<p>SLO budgets: not checked (no SLOs are configured in this process).</p>{{end}}
<h2>Trends (seven days, hourly)</h2>
<table id="trends"><tr><th>level</th><th>now</th><th>7 days</th><th>change</th></tr>
{{range .Trends}}<tr><td>{{.Label}}</td><td>{{num .Now}} {{.Unit}}</td><td><svg width="160" height="32" viewBox="0 0 160 32" role="img" aria-label="{{.Label}}"><polyline fill="none" stroke="#36c" stroke-width="1.5" points="{{spark .Points}}"/></svg></td><td>{{printf "%+.3g" .Change}}</td></tr>
{{end}}</table>
<h2>What changed</h2>
<ul id="changes">{{range .Changes.New}}<li>new: {{.}}</li>{{end}}{{range .Changes.Resolved}}<li>resolved: {{.}}</li>{{end}}</ul>
</body></html>
`))
