package ops

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"time"
)

// amPayload is the body of an alert notification: Alertmanager's webhook
// payload, version 4, so an Alertmanager webhook receiver (and tools
// built for one) accept it as is. One notification carries one alert.
type amPayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []amAlert         `json:"alerts"`
}

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Fingerprint is the alert's stable 16-hex-digit identity, as Alertmanager
// writes fingerprints.
func Fingerprint(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:8])
}

// labels are the alert's Alertmanager labels: its own, plus alertname,
// severity, kind, site, component and check (the location), plus id.
func (st AlertState) labels() map[string]string {
	l := make(map[string]string, len(st.Labels)+7)
	maps.Copy(l, st.Labels)
	if l["alertname"] == "" {
		l["alertname"] = st.Kind
	}
	l["severity"], l["kind"], l["site"] = st.Severity, st.Kind, st.Site
	l["component"], l["check"], l["alert_id"] = st.Component, st.Check, st.ID
	return l
}

func newPayload(receiver, externalURL string, st AlertState) amPayload {
	labels := st.labels()
	ann := map[string]string{
		"summary":     st.Summary,
		"description": "component " + st.Component + ", check " + st.Check + " (site " + st.Site + ")",
	}
	gen := ""
	if externalURL != "" {
		gen = externalURL + "/v1/alerts"
	}
	return amPayload{
		Version: "4", GroupKey: "{}:{alert_id=\"" + st.ID + "\"}", Status: st.Status, Receiver: receiver,
		GroupLabels: map[string]string{"alert_id": st.ID}, CommonLabels: labels, CommonAnnotations: ann,
		ExternalURL: externalURL,
		Alerts: []amAlert{{
			Status: st.Status, Labels: labels, Annotations: ann, StartsAt: st.StartsAt, EndsAt: st.EndsAt,
			GeneratorURL: gen, Fingerprint: Fingerprint(st.ID),
		}},
	}
}
