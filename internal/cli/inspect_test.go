package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const inspectInput = `apiVersion: apps/v1
kind: Deployment
metadata: {name: results, namespace: games}
spec:
  replicas: 2
  selector: {matchLabels: {app: results}}
  template:
    metadata: {labels: {app: results}}
    spec:
      containers:
      - name: app
        image: eclipse-temurin:21-jre
        command: [java, -Xmx2g, -jar, app.jar]
        resources: {limits: {memory: 2Gi}}
`

func TestInspectK8s(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderr   string
		jsonRule string
	}{
		{"table from stdin", []string{"inspect", "k8s", "-"}, 0, "jvm-heap-over-limit", "", ""},
		{"json", []string{"inspect", "k8s", "--json", "-"}, 0, `"grade": "F"`, "", "jvm-heap-over-limit"},
		{"sarif", []string{"inspect", "k8s", "--format", "sarif", "-"}, 0, `"ruleId": "jvm-heap-over-limit"`, "", ""},
		{"html", []string{"inspect", "k8s", "--format", "html", "-"}, 0, "<td>jvm-heap-over-limit</td>", "", ""},
		{"min-grade met", []string{"inspect", "k8s", "--min-grade", "F", "-"}, 0, "grade F", "", ""},
		{"min-grade missed", []string{"inspect", "k8s", "--min-grade", "D", "-"}, 1, "grade F", "grade F (score 43) is below --min-grade D", ""},
		{"ignore by flag", []string{"inspect", "k8s", "--ignore", "jvm-heap-over-limit,jvm-heap-fixed", "--json", "-"}, 0, `"suppressed": 2`, "", ""},
		{"bad format", []string{"inspect", "k8s", "--format", "xml", "-"}, 2, "", "--format", ""},
		{"bad grade", []string{"inspect", "k8s", "--min-grade", "E", "-"}, 2, "", "--min-grade", ""},
		{"no input", []string{"inspect", "k8s"}, 2, "", "name manifests", ""},
		{"server refused", []string{"inspect", "k8s", "--server", "http://127.0.0.1:1"}, 1, "", "list deployments", ""},
		{"kubeconfig missing", []string{"inspect", "k8s", "--kubeconfig", "does-not-exist.conf"}, 1, "", "does-not-exist.conf", ""},
		{"missing file", []string{"inspect", "k8s", "does-not-exist.yaml"}, 1, "", "does-not-exist.yaml", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(context.Background(), tt.args, Env{Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader(inspectInput)})
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errOut.String())
			}
			if !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errOut.String(), tt.stderr) {
				t.Fatalf("stdout %q\nstderr %q\nwant %q / %q", out.String(), errOut.String(), tt.stdout, tt.stderr)
			}
			if tt.jsonRule != "" {
				var rep struct {
					Score    int    `json:"score"`
					Grade    string `json:"grade"`
					Findings []struct {
						Rule, Category, Severity, Object, Container, Message, Fix string
					} `json:"findings"`
				}
				if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
					t.Fatal(err)
				}
				f := rep.Findings[0]
				if f.Rule != tt.jsonRule || f.Category != "memory" || f.Severity != "critical" || f.Object != "Deployment/games/results" || f.Container != "app" || f.Fix == "" {
					t.Fatalf("first finding %+v", f)
				}
			}
		})
	}
}

// TestInspectK8sServer reviews a cluster behind a kubectl-proxy-like URL.
func TestInspectK8sServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/apis/apps/v1/namespaces/games/deployments" {
			fmt.Fprint(w, `{"kind":"DeploymentList","metadata":{},"items":[{"metadata":{"name":"results","namespace":"games"},
"spec":{"replicas":2,"template":{"metadata":{"labels":{"app":"results"}},"spec":{"containers":[{"name":"app","image":"eclipse-temurin:21-jre",
"command":["java","-Xmx2g","-jar","app.jar"],"resources":{"limits":{"memory":"2Gi"}}}]}}}}]}`)
			return
		}
		if !strings.Contains(r.URL.Path, "/namespaces/games/") {
			t.Errorf("request outside the namespace: %s", r.URL.Path)
		}
		fmt.Fprint(w, `{"kind":"List","metadata":{},"items":[]}`)
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"inspect", "k8s", "--server", srv.URL, "--namespace", "games", "--json"}, Env{Stdout: &out, Stderr: &errOut})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), `"rule": "jvm-heap-over-limit"`) || !strings.Contains(out.String(), `"object": "Deployment/games/results"`) {
		t.Fatalf("no heap finding for the listed deployment:\n%s", out.String())
	}
}
