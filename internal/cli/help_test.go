package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/cmdio"
)

// Every command and subcommand answers --help with its usage once, an
// example, and exit code 0.
func TestEveryCommandHasHelpWithExample(t *testing.T) {
	var paths [][]string
	for _, c := range commands() {
		if len(c.sub) == 0 {
			paths = append(paths, []string{c.name})
		}
		for _, s := range c.sub {
			paths = append(paths, []string{c.name, s.name})
		}
	}
	for _, path := range paths {
		t.Run(strings.Join(path, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(context.Background(), append(path, "--help"), Env{Stdout: &out, Stderr: &errOut})
			if code != 0 {
				t.Fatalf("exit %d, stderr %s", code, errOut.String())
			}
			help := out.String()
			if n := strings.Count(help, "Usage:"); n != 1 {
				t.Errorf("usage printed %d times:\n%s", n, help)
			}
			if !strings.Contains(help, "Example:\n  stadion ") {
				t.Errorf("no example:\n%s", help)
			}
		})
	}
}

func TestUnknownCommandSaysWhatToDo(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"pubish"}, Env{Stdout: &out, Stderr: &errOut}); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), "stadion --help") {
		t.Errorf("no hint: %s", errOut.String())
	}
}

// An action word without its NAME is a usage error naming what is missing,
// answered before any request: not a lookup of a sink called "pause".
func TestSinksActionWithoutNameSaysWhatToDo(t *testing.T) {
	for _, action := range []string{"pause", "resume", "dead-letters", "redrive", "drop"} {
		var out, errOut bytes.Buffer
		args := []string{"sinks", action, "--server", "http://127.0.0.1:1", "--token", "k"}
		if code := Main(context.Background(), args, Env{Stdout: &out, Stderr: &errOut}); code != 2 {
			t.Errorf("sinks %s: exit %d, want 2 (stderr %s)", action, code, errOut.String())
		}
		if !strings.Contains(errOut.String(), "needs a sink NAME") {
			t.Errorf("sinks %s: %s", action, errOut.String())
		}
	}
}

// stadion --version and stadion version print the module version and the
// build's revision (what cmdio.BuildInfo reads), not "dev".
func TestVersion(t *testing.T) {
	want := "stadion " + cmdio.BuildInfo().String() + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out, errOut bytes.Buffer
		if code := Main(context.Background(), args, Env{Stdout: &out, Stderr: &errOut}); code != 0 {
			t.Fatalf("%v: exit %d, stderr %s", args, code, errOut.String())
		}
		if !strings.HasPrefix(out.String(), want) || strings.Contains(out.String(), " dev\n") {
			t.Errorf("%v printed %q, want %q first", args, out.String(), want)
		}
	}
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"version", "--json"}, Env{Stdout: &out, Stderr: &out}); code != 0 || !strings.Contains(out.String(), `"version": "`) {
		t.Errorf("version --json: %d %s", code, out.String())
	}
}
