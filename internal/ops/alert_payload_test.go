package ops

import (
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"
)

// The -update flag rewrites golden files. It is registered here only if
// another test file of the package has not registered it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestAlertmanagerPayloadGolden pins the notification body: Alertmanager's
// webhook payload, version 4, as its receivers parse it.
func TestAlertmanagerPayloadGolden(t *testing.T) {
	start := time.Date(2026, 2, 4, 20, 0, 0, 0, time.UTC)
	st := AlertState{
		Alert: Alert{
			ID: "slo/results-publish/page", Kind: "slo", Severity: "page", Site: "cloud",
			Component: "exchange/results", Check: "slo/results-publish",
			Summary:  "SLO results-publish is burning its error budget 20.0x over 1h and 22.5x over 5m (page at 14.4x): look at exchange/results",
			Labels:   map[string]string{"alertname": "SLOBurnRate", "slo": "results-publish", "indicator": "publish_availability"},
			StartsAt: start,
		},
		Status: StatusResolved, EndsAt: start.Add(17 * time.Minute), UpdatedAt: start.Add(17 * time.Minute),
	}
	got, err := json.MarshalIndent(newPayload("oncall", "https://ops.example", st), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const golden = "testdata/alertmanager_payload.golden.json"
	if updateGolden() {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("payload changed (go test -run Golden -update to accept):\n%s", got)
	}
	var generic map[string]any
	if err := json.Unmarshal(got, &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels", "commonLabels", "commonAnnotations", "externalURL", "alerts"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("payload lacks %q", k)
		}
	}
}
