package gate

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/ops"
)

// TestEdgeAnomaliesReachTheCloud: an edge's anomalous log classes lower
// its venue's health in the cloud through the "anomalies" check, which
// names the newest, and the cloud's admin lists them all through the link.
func TestEdgeAnomaliesReachTheCloud(t *testing.T) {
	c := startCloud(t)
	now := time.Now().UTC()
	classes := []ops.AnomalyClass{
		{ID: "a1", Component: "gate", Template: "scan log write failed err <*>", Level: "ERROR", Count: 3, FirstSeen: now.Add(-time.Minute), LastSeen: now, Anomalous: true},
		{ID: "a2", Component: "engine", Template: "slow consumer <*>", Level: "WARN", Count: 1, FirstSeen: now, LastSeen: now, Anomalous: true},
		{ID: "n1", Component: "edge", Template: "venue edge linked", Level: "INFO", Count: 9, FirstSeen: now.Add(-time.Hour), LastSeen: now},
	}
	startEdge(t, "bird-nest", tempDir(t, "edge"), c.eng.LeafURL(), c.credentials(t, "bird-nest"), func(o *EdgeOptions) {
		o.Anomalies = func() []ops.AnomalyClass { return classes }
	})
	var check ops.Check
	eventually(t, "the anomalies check of bird-nest", 15*time.Second, func() bool {
		for _, ch := range c.cloud.Checks(context.Background()) {
			if ch.Component == "gate/bird-nest" && ch.Name == "anomalies" {
				check = ch
				return ch.Value == 2
			}
		}
		return false
	})
	if !strings.Contains(check.Detail, "engine: slow consumer <*>") {
		t.Errorf("the check does not name the newest anomalous class: %s", check.Detail)
	}
	var ans AnomaliesAnswer
	if code := call(t, "GET", c.url+"/v1/venues/bird-nest/anomalies", c.admin, nil, &ans); code != http.StatusOK {
		t.Fatalf("GET anomalies of bird-nest: %d", code)
	}
	if ans.Site != "bird-nest" || len(ans.Classes) != 3 || ans.Classes[0].ID != "a1" {
		t.Fatalf("anomalies of bird-nest: %+v", ans)
	}
	// Only the cloud's admin may ask an edge.
	if code := call(t, "GET", c.url+"/v1/venues/bird-nest/anomalies", createKey(t, c, "screens"), nil, nil); code != http.StatusForbidden {
		t.Fatalf("a client key listed an edge's anomalies: %d", code)
	}
}
