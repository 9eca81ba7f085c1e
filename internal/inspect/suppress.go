package inspect

import "strings"

// IgnoreAnnotation lists rule ids not to report for an object
// ("stadion.dev/ignore: jvm-heap-waste,image-not-pinned"; "*" for all). It
// is read from the object's metadata and from its pod template.
const IgnoreAnnotation = "stadion.dev/ignore"

type suppressor struct {
	rules   map[string]bool // everywhere
	objects map[string]bool // "Kind/ns/name" or "Kind/ns/name:rule"
}

func newSuppressor(ignore []string) suppressor {
	s := suppressor{rules: map[string]bool{}, objects: map[string]bool{}}
	for _, e := range ignore {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
		case strings.Contains(e, "/"):
			s.objects[e] = true
		default:
			s.rules[e] = true
		}
	}
	return s
}

func (s suppressor) suppressed(w *Workload, f Finding) bool {
	if s.rules[f.Rule] || s.objects[f.Object] || s.objects[f.Object+":"+f.Rule] {
		return true
	}
	for _, a := range []map[string]string{w.Annotations, w.Template.Annotations} {
		for _, id := range strings.Split(a[IgnoreAnnotation], ",") {
			if id = strings.TrimSpace(id); id == "*" || id == f.Rule {
				return true
			}
		}
	}
	return false
}
