package client

import "strings"

// PublishContentType is the Content-Type of a publish body: plain JSON,
// or with cloudEvent a structured CloudEvent or a batch of them.
func PublishContentType(body []byte, cloudEvent bool) string {
	if !cloudEvent {
		return "application/json"
	}
	if strings.HasPrefix(strings.TrimSpace(string(body)), "[") {
		return "application/cloudevents-batch+json"
	}
	return "application/cloudevents+json"
}

// Receipt is what a publish answers per stored event.
type Receipt struct {
	ID        string `json:"id"`
	Topic     string `json:"topic"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
}
