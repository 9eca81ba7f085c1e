package drain

import (
	"os"
	"strings"
	"testing"
)

func TestMinerGroupsFixedSample(t *testing.T) {
	m := New(Options{})
	lines := []string{
		"webhook delivery failed subscription=orders status=503 attempt=1",
		"webhook delivery failed subscription=orders status=503 attempt=2",
		"webhook delivery failed subscription=medals status=500 attempt=7",
		"sink batch written sink=results-db rows=120 took=12ms",
		"sink batch written sink=results-db rows=7 took=3ms",
		"client connected from 10.0.0.7:51234 id=42",
		"client connected from 10.0.0.9:40000 id=43",
		"venue venue-bn link down",
	}
	for _, l := range lines {
		m.Add(l)
	}
	var got []string
	for _, c := range m.Clusters() {
		got = append(got, c.String())
	}
	want := []string{
		"webhook delivery failed subscription=<*> status=<NUM> attempt=<NUM>",
		"sink batch written sink=results-db rows=<NUM> took=<NUM>",
		"client connected from <IP> id=<NUM>",
		"venue venue-bn link down",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("templates:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if c := m.Clusters()[0]; c.Size != 3 {
		t.Errorf("first template took %d lines, want 3", c.Size)
	}
}

func TestMinerCapsTemplates(t *testing.T) {
	m := New(Options{MaxTemplates: 2})
	for _, l := range []string{"alpha one", "beta two three", "gamma four five six", "alpha one"} {
		m.Add(l)
	}
	if m.Len() != 2 || m.Refused != 1 {
		t.Errorf("%d templates, %d refused; want 2 and 1", m.Len(), m.Refused)
	}
	if c, isNew := m.Add("alpha one"); c == nil || isNew || c.Size != 3 {
		t.Errorf("a known line after the cap: %+v new=%v", c, isNew)
	}
}

func TestGroupingAccuracyOnSample(t *testing.T) {
	f, err := os.Open("testdata/sample_structured.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, err := ReadStructured(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) < 20 {
		t.Fatalf("%d lines", len(lines))
	}
	if acc := GroupingAccuracy(lines, Options{}); acc < 0.9 {
		t.Errorf("grouping accuracy %.3f on the sample, want at least 0.9", acc)
	}
}
