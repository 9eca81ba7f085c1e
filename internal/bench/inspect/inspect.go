package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/inspect"
)

var Command = &rig.Command{
	Name:  "inspect",
	Short: "inspect k8s on the corpus: objects/s, findings per category beside kube-score and kube-linter, memory precision",
	Long: `Reads and reviews the corpus (--corpus, 50 workloads) --rounds times and
prints objects/s. Runs kube-score and kube-linter (found in PATH or
$GOPATH/bin; install with 'go install github.com/zegl/kube-score/cmd/kube-score@latest'
and 'go install golang.stackrox.io/kube-linter/cmd/kube-linter@latest') on
the same files and prints findings per category side by side; a tool that is
not installed is reported as such. The memory findings are compared with the
hand-checked list (memory-expected.txt in the corpus): precision and recall.`,
	Example: `stadion bench inspect
stadion bench inspect --corpus internal/inspect/testdata/corpus --rounds 500 --json`,
	Flags: func(fs *flag.FlagSet) func(context.Context, cmdio.Env, []string) error {
		corpus := fs.String("corpus", "internal/inspect/testdata/corpus", "directory of manifests (with memory-expected.txt)")
		rounds := fs.Int("rounds", 200, "times the corpus is read and reviewed")
		asJSON := fs.Bool("json", false, "machine-readable JSON output")
		return func(ctx context.Context, env cmdio.Env, args []string) error {
			if len(args) > 0 {
				return cmdio.UsageErr("bench inspect takes no arguments")
			}
			if *rounds < 1 {
				return cmdio.UsageErr("--rounds must be positive")
			}
			res, err := runBenchInspect(ctx, *corpus, *rounds)
			if err != nil {
				return err
			}
			if *asJSON {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			res.print(env.Stdout)
			return nil
		}
	},
}

type inspectBenchResult struct {
	Objects       int                       `json:"objects"`
	Workloads     int                       `json:"workloads"`
	Rounds        int                       `json:"rounds"`
	ObjectsPerSec float64                   `json:"objects_per_sec"`
	Tools         map[string]map[string]int `json:"findings_by_category"` // tool -> category -> count
	ToolTime      map[string]string         `json:"tool_time,omitempty"`
	ToolErrors    map[string]string         `json:"tool_errors,omitempty"`
	Memory        memoryPrecision           `json:"memory"`
}

type memoryPrecision struct {
	Expected  int      `json:"expected"`
	Found     int      `json:"found"`
	Correct   int      `json:"correct"`
	Precision float64  `json:"precision"`
	Recall    float64  `json:"recall"`
	Extra     []string `json:"extra,omitempty"`
	Missing   []string `json:"missing,omitempty"`
}

func runBenchInspect(ctx context.Context, corpus string, rounds int) (*inspectBenchResult, error) {
	res := &inspectBenchResult{Rounds: rounds, Tools: map[string]map[string]int{}, ToolTime: map[string]string{}, ToolErrors: map[string]string{}}
	var rep *inspect.Report
	start := time.Now()
	for i := 0; i < rounds; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		inv, err := inspect.ReadPaths([]string{corpus}, nil)
		if err != nil {
			return nil, err
		}
		rep = inspect.Inspect(inv, inspect.Options{})
		res.Objects, res.Workloads = inv.Objects, len(inv.Workloads)
	}
	res.ObjectsPerSec = float64(res.Objects*rounds) / time.Since(start).Seconds()
	stadion := map[string]int{}
	for _, f := range rep.Findings {
		stadion[f.Category]++
	}
	res.Tools["stadion"] = stadion
	res.Memory = precision(rep, filepath.Join(corpus, "memory-expected.txt"))
	files, _ := filepath.Glob(filepath.Join(corpus, "*.yaml"))
	for _, t := range []struct {
		name  string
		args  []string
		parse func([]byte) (map[string]int, error)
	}{
		{"kube-score", append([]string{"score", "-o", "json"}, files...), parseKubeScore},
		{"kube-linter", []string{"lint", "--format", "json", corpus}, parseKubeLinter},
	} {
		bin := findTool(t.name)
		if bin == "" {
			res.ToolErrors[t.name] = "not installed (see --help)"
			continue
		}
		t0 := time.Now()
		out, err := exec.CommandContext(ctx, bin, t.args...).Output() // both exit non-zero when they find problems
		res.ToolTime[t.name] = time.Since(t0).Round(time.Millisecond).String()
		counts, perr := t.parse(out)
		if perr != nil {
			res.ToolErrors[t.name] = fmt.Sprintf("%v (run error: %v)", perr, err)
			continue
		}
		res.Tools[t.name] = counts
	}
	return res, nil
}

func findTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(gopath, "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

func precision(rep *inspect.Report, expectedFile string) memoryPrecision {
	var want []string
	if data, err := os.ReadFile(expectedFile); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				want = append(want, l)
			}
		}
	}
	m := memoryPrecision{Expected: len(want)}
	for _, f := range rep.Findings {
		if f.Category != inspect.CatMemory {
			continue
		}
		m.Found++
		if k := f.Object + " " + f.Container + " " + f.Rule; slices.Contains(want, k) {
			m.Correct++
		} else {
			m.Extra = append(m.Extra, k)
		}
	}
	for _, w := range want {
		found := false
		for _, f := range rep.Findings {
			if f.Object+" "+f.Container+" "+f.Rule == w {
				found = true
			}
		}
		if !found {
			m.Missing = append(m.Missing, w)
		}
	}
	if m.Found > 0 {
		m.Precision = float64(m.Correct) / float64(m.Found)
	}
	if m.Expected > 0 {
		m.Recall = float64(m.Correct) / float64(m.Expected)
	}
	return m
}

// kubeScoreCategory maps kube-score checks (and, for container-resources,
// the comment) to this tool's categories.
func kubeScoreCategory(check, summary string) string {
	switch {
	case check == "container-resources" || check == "container-resource-requests-equal-limits":
		if strings.Contains(strings.ToLower(summary), "cpu") {
			return inspect.CatCPU
		}
		return inspect.CatMemory
	case strings.Contains(check, "probe"):
		return inspect.CatProbes
	case strings.Contains(check, "poddisruptionbudget") || strings.Contains(check, "podantiaffinity") || strings.Contains(check, "replicas") || strings.HasPrefix(check, "horizontalpodautoscaler"):
		return inspect.CatAvailability
	case strings.Contains(check, "security-context") || strings.Contains(check, "networkpolicy"):
		return inspect.CatSecurity
	case strings.Contains(check, "image"):
		return inspect.CatSupplyChain
	}
	return "other"
}

func parseKubeScore(out []byte) (map[string]int, error) {
	var objs []struct {
		Checks []struct {
			Check struct {
				ID string `json:"id"`
			} `json:"check"`
			Grade    int  `json:"grade"`
			Skipped  bool `json:"skipped"`
			Comments []struct {
				Summary string `json:"summary"`
			} `json:"comments"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(out, &objs); err != nil {
		return nil, fmt.Errorf("kube-score output: %w", err)
	}
	counts := map[string]int{}
	for _, o := range objs {
		for _, c := range o.Checks {
			if c.Skipped || c.Grade >= 10 {
				continue
			}
			if len(c.Comments) == 0 {
				counts[kubeScoreCategory(c.Check.ID, "")]++
			}
			for _, cm := range c.Comments {
				counts[kubeScoreCategory(c.Check.ID, cm.Summary)]++
			}
		}
	}
	return counts, nil
}

// kubeLinterCategory maps kube-linter checks to this tool's categories.
func kubeLinterCategory(check string) string {
	switch {
	case strings.Contains(check, "memory"):
		return inspect.CatMemory
	case strings.Contains(check, "cpu"):
		return inspect.CatCPU
	case strings.Contains(check, "probe"):
		return inspect.CatProbes
	case strings.Contains(check, "anti-affinity") || strings.Contains(check, "replicas") || strings.Contains(check, "pdb") || strings.Contains(check, "hpa"):
		return inspect.CatAvailability
	case strings.Contains(check, "image") || strings.Contains(check, "latest-tag"):
		return inspect.CatSupplyChain
	case strings.Contains(check, "root") || strings.Contains(check, "privilege") || strings.Contains(check, "capabilit") || strings.Contains(check, "host") || strings.Contains(check, "sensitive") || strings.Contains(check, "readonly") || strings.Contains(check, "service-account"):
		return inspect.CatSecurity
	}
	return "other"
}

func parseKubeLinter(out []byte) (map[string]int, error) {
	var r struct {
		Reports []struct {
			Check string `json:"Check"`
		} `json:"Reports"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil {
		return nil, fmt.Errorf("kube-linter output: %w", err)
	}
	counts := map[string]int{}
	for _, rep := range r.Reports {
		counts[kubeLinterCategory(rep.Check)]++
	}
	return counts, nil
}

func (r *inspectBenchResult) print(w io.Writer) {
	fmt.Fprintf(w, "corpus: %d objects, %d workloads; %d rounds\nstadion inspect k8s: %.0f objects/s (read + review)\n\n", r.Objects, r.Workloads, r.Rounds, r.ObjectsPerSec)
	tools := []string{"stadion", "kube-score", "kube-linter"}
	fmt.Fprintf(w, "%-14s", "category")
	for _, t := range tools {
		fmt.Fprintf(w, "%12s", t)
	}
	fmt.Fprintln(w)
	for _, c := range append(slices.Clone(inspect.Categories), "other") {
		fmt.Fprintf(w, "%-14s", c)
		for _, t := range tools {
			if counts, ok := r.Tools[t]; ok {
				fmt.Fprintf(w, "%12d", counts[c])
			} else {
				fmt.Fprintf(w, "%12s", "-")
			}
		}
		fmt.Fprintln(w)
	}
	for _, t := range tools[1:] {
		if e, ok := r.ToolErrors[t]; ok {
			fmt.Fprintf(w, "%s: %s\n", t, e)
		} else if d, ok := r.ToolTime[t]; ok {
			fmt.Fprintf(w, "%s ran in %s\n", t, d)
		}
	}
	m := r.Memory
	fmt.Fprintf(w, "\nmemory findings vs the hand-checked table: %d found, %d expected, %d correct: precision %.2f, recall %.2f\n", m.Found, m.Expected, m.Correct, m.Precision, m.Recall)
	for _, e := range m.Extra {
		fmt.Fprintf(w, "  extra:   %s\n", e)
	}
	for _, e := range m.Missing {
		fmt.Fprintf(w, "  missing: %s\n", e)
	}
}
