package inspect

import "testing"

func TestBenchInspectParsers(t *testing.T) {
	ks := `[{"checks":[{"check":{"id":"container-resources"},"grade":1,"skipped":false,"comments":[{"summary":"CPU limit is not set"},{"summary":"Memory limit is not set"}]},
	{"check":{"id":"pod-probes"},"grade":1,"skipped":false,"comments":[]},{"check":{"id":"stable-version"},"grade":10,"skipped":false,"comments":null},
	{"check":{"id":"deployment-has-poddisruptionbudget"},"grade":1,"skipped":true,"comments":[]}]}]`
	got, err := parseKubeScore([]byte(ks))
	if err != nil {
		t.Fatal(err)
	}
	if got["cpu"] != 1 || got["memory"] != 1 || got["probes"] != 1 || got["availability"] != 0 || len(got) != 3 {
		t.Fatalf("kube-score counts %v", got)
	}
	kl := `{"Reports":[{"Check":"unset-memory-requirements"},{"Check":"no-read-only-root-fs"},{"Check":"latest-tag"},{"Check":"dangling-service"}]}`
	got, err = parseKubeLinter([]byte(kl))
	if err != nil {
		t.Fatal(err)
	}
	if got["memory"] != 1 || got["security"] != 1 || got["supply-chain"] != 1 || got["other"] != 1 {
		t.Fatalf("kube-linter counts %v", got)
	}
	if _, err := parseKubeScore([]byte("not json")); err == nil {
		t.Fatal("bad kube-score output accepted")
	}
}
