package cmdio

import (
	"runtime/debug"
	"strings"
)

// Build says which stadion this is: the module version and the VCS
// revision, whether the work tree had changes and the commit's time, as the
// Go toolchain recorded them in the binary.
type Build struct {
	Version  string `json:"version"`            // v1.2.3, or "(devel)" for a build from a work tree
	Revision string `json:"revision,omitempty"` // the full commit hash
	Modified bool   `json:"modified,omitempty"` // the work tree had uncommitted changes
	Time     string `json:"time,omitempty"`     // the commit's time, RFC 3339
	Go       string `json:"go,omitempty"`       // the Go toolchain
}

// BuildInfo reads the build's version from the binary. A Version set with
// -ldflags wins over the module version.
func BuildInfo() Build {
	b := Build{Version: "(devel)"}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		b.Go = bi.GoVersion
		if v := bi.Main.Version; v != "" {
			b.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			case "vcs.time":
				b.Time = s.Value
			}
		}
	}
	if Version != "dev" {
		b.Version = Version
	}
	return b
}

// String is one line: "v1.2.3 (3f2c1a9e0b7d, 2026-12-07T21:00:00Z, modified)",
// or "(devel)" alone when the build recorded no revision (go run, go test,
// -buildvcs=false).
func (b Build) String() string {
	s := b.Version
	var extra []string
	if b.Revision != "" {
		extra = append(extra, b.Revision[:min(12, len(b.Revision))])
	}
	if b.Time != "" {
		extra = append(extra, b.Time)
	}
	if b.Modified {
		extra = append(extra, "modified")
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s
}

// Short is the version and the short revision, for banners and
// User-Agents: "(devel)-3f2c1a9e0b7d".
func (b Build) Short() string {
	if b.Revision == "" {
		return b.Version
	}
	s := b.Version + "-" + b.Revision[:min(12, len(b.Revision))]
	if b.Modified {
		s += "+dirty"
	}
	return s
}
