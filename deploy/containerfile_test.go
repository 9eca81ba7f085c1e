package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// stage is one FROM ... AS name stage of the Containerfile.
type stage struct {
	from, name string
	lines      []string
}

func readContainerfile(t *testing.T) map[string]stage {
	t.Helper()
	raw, err := os.ReadFile("../Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(raw), "\\\n", " ")
	stages := map[string]stage{}
	var cur *stage
	from := regexp.MustCompile(`^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$`)
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if m := from.FindStringSubmatch(l); m != nil {
			if cur != nil {
				stages[cur.name] = *cur
			}
			cur = &stage{from: m[1], name: m[2]}
			continue
		}
		if cur != nil {
			cur.lines = append(cur.lines, l)
		}
	}
	if cur != nil {
		stages[cur.name] = *cur
	}
	return stages
}

func (s stage) has(prefix string) bool {
	for _, l := range s.lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// The image is what the manifests and the chart expect: a static binary,
// stadion on the PATH as the entrypoint, user 65532 (the pods'
// runAsUser), in a scratch image and an ffmpeg variant; and a plain build
// makes the static one.
func TestContainerfile(t *testing.T) {
	st := readContainerfile(t)
	build, ok := st["build"]
	if !ok || !build.has("RUN CGO_ENABLED=0 go build") {
		t.Fatalf("no build stage running CGO_ENABLED=0 go build: %+v", build)
	}
	for name, from := range map[string]string{"static": "scratch", "ffmpeg": "${DEBIAN_IMAGE}"} {
		s, ok := st[name]
		if !ok {
			t.Errorf("no %s target", name)
			continue
		}
		if s.from != from {
			t.Errorf("%s: FROM %s, want %s", name, s.from, from)
		}
		for _, want := range []string{"USER 65532:65532", `ENTRYPOINT ["stadion"]`, "COPY --from=build /out/stadion /usr/local/bin/stadion"} {
			if !s.has(want) {
				t.Errorf("%s: no %q", name, want)
			}
		}
	}
	if s := st["ffmpeg"]; !strings.Contains(strings.Join(s.lines, "\n"), "install -y --no-install-recommends ffmpeg") {
		t.Error("ffmpeg: does not install Debian's ffmpeg")
	}
	if last := st[""]; last.from != "static" {
		t.Errorf("the last stage (a build without --target) is FROM %q, want static", last.from)
	}
}
