package inspect

import (
	"html/template"
	"io"
)

var htmlPage = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stadion inspect k8s: grade {{.Grade}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%;margin:1em 0}
th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
.critical{color:#b00020;font-weight:600}.warning{color:#a05a00}.info{color:#555}
.grade{font-size:2em;font-weight:700}
</style></head><body>
<h1>Pre-event review</h1>
<p><span class="grade">{{.Grade}}</span> score {{.Score}} · {{.Summary.Workloads}} workloads, {{.Summary.Containers}} containers · {{len .Findings}} findings, {{.Suppressed}} suppressed</p>
<h2>Objects</h2>
<table><tr><th>object</th><th>score</th><th>grade</th><th>findings</th></tr>
{{range .Objects}}<tr><td>{{.Object}}</td><td>{{.Score}}</td><td>{{.Grade}}</td><td>{{.Findings}}</td></tr>
{{end}}</table>
<h2>Findings</h2>
<table><tr><th>severity</th><th>rule</th><th>category</th><th>object</th><th>container</th><th>message</th><th>fix</th></tr>
{{range .Findings}}<tr><td class="{{.Severity}}">{{.Severity}}</td><td>{{.Rule}}</td><td>{{.Category}}</td><td>{{.Object}}</td><td>{{.Container}}</td><td>{{.Message}}</td><td>{{.Fix}}</td></tr>
{{end}}</table>
</body></html>
`))

func (r *Report) writeHTML(w io.Writer) error { return htmlPage.Execute(w, r) }
