package gate

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/nats-io/nats.go"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/ops"
)

// A venue edge mines its own logs into anomaly classes (ops.Anomalies in
// the edge's engine). The cloud sees them two ways: every heartbeat
// carries how many classes are anomalous and the newest one, which the
// venue's health check "anomalies" shows (so a grade drop and its alert
// point at gate/<venue>); and GET /v1/venues/{venue}/anomalies asks the
// edge for the whole list over its link, like its logs.

// maxEdgeAnomalies bounds the classes an edge answers with.
const maxEdgeAnomalies = 500

// AnomaliesAnswer is an edge's answer to an anomalies request.
type AnomaliesAnswer struct {
	Site    string             `json:"site"`
	Classes []ops.AnomalyClass `json:"classes"`
}

// anomalySummary counts the anomalous classes and names the newest.
func anomalySummary(classes []ops.AnomalyClass) (int, string) {
	n, newest := 0, -1
	for i, c := range classes {
		if !c.Anomalous {
			continue
		}
		n++
		if newest < 0 || c.FirstSeen.After(classes[newest].FirstSeen) {
			newest = i
		}
	}
	if newest < 0 {
		return 0, ""
	}
	return n, truncate(classes[newest].Component+": "+classes[newest].Template, maxHeartbeatAnomaly)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		n--
	}
	return s[:n]
}

func (e *Edge) onAnomalies(m *nats.Msg) {
	if !e.fromCloud(m) {
		return
	}
	classes := e.classes()
	if len(classes) > maxEdgeAnomalies {
		classes = classes[:maxEdgeAnomalies]
	}
	raw, _ := json.Marshal(AnomaliesAnswer{Site: e.venue, Classes: classes})
	_ = m.Respond(raw)
}

// edgeAnomalies is GET /v1/venues/{venue}/anomalies (admin): the edge's
// own anomaly classes, fetched through its link.
func (c *Cloud) edgeAnomalies(w http.ResponseWriter, r *http.Request) error {
	if err := api.RequireAdmin(r); err != nil {
		return err
	}
	v, err := c.venueOf(r)
	if err != nil {
		return err
	}
	raw, err := c.ask(r.Context(), v.venue, "anomalies", struct{}{})
	if err != nil {
		return err
	}
	var ans AnomaliesAnswer
	if unmarshalStrict(raw, &ans) != nil || ans.Site != v.venue || len(ans.Classes) > maxEdgeAnomalies {
		c.refuse(v.venue, refusedDiag, "what", "anomalies")
		return api.Unavailable(fmt.Sprintf("the edge of venue %s answered with something that is not its anomalies", v.venue))
	}
	api.WriteJSON(w, http.StatusOK, ans)
	return nil
}
