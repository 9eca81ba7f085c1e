package inspect

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Formats are the output formats Write accepts.
var Formats = []string{"table", "json", "sarif", "html"}

// Write prints the report in one of Formats.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "table":
		return r.writeTable(w)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "sarif":
		return r.writeSARIF(w)
	case "html":
		return r.writeHTML(w)
	}
	return fmt.Errorf("format %q: want one of %s", format, strings.Join(Formats, ", "))
}

func (r *Report) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tRULE\tOBJECT\tCONTAINER\tMESSAGE")
	for _, f := range r.Findings {
		c := f.Container
		if c == "" {
			c = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Rule, f.Object, c, f.Message)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT\tSCORE\tGRADE\tFINDINGS")
	for _, o := range r.Objects {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", o.Object, o.Score, o.Grade, o.Findings)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var cats []string
	for _, c := range Categories {
		cats = append(cats, fmt.Sprintf("%s %d", c, r.Summary.ByCategory[c]))
	}
	s := r.Summary
	_, err := fmt.Fprintf(w, "\n%d objects, %d workloads, %d containers; %d findings (critical %d, warning %d, info %d; %s), %d suppressed\nscore %d, grade %s\n",
		s.Objects, s.Workloads, s.Containers, len(r.Findings), s.BySeverity["critical"], s.BySeverity["warning"], s.BySeverity["info"],
		strings.Join(cats, ", "), r.Suppressed, r.Score, r.Grade)
	return err
}
