package client

import (
	"encoding/json"
	"time"
)

// TopicRow is one topic as GET /v1/topics lists it.
type TopicRow struct {
	Name        string     `json:"name"`
	Kind        string     `json:"kind"`
	Key         string     `json:"key"`
	Events      uint64     `json:"events"`
	Bytes       uint64     `json:"bytes"`
	LastSeq     uint64     `json:"last_seq"`
	LastTime    *time.Time `json:"last_time"`
	Publishers  []string   `json:"publishers"`
	Subscribers []string   `json:"subscribers"`
}

// TopicInfo is one topic as GET /v1/topics/{topic} shows it.
type TopicInfo struct {
	TopicRow
	Description string          `json:"description"`
	Stream      string          `json:"stream"`
	Keys        uint64          `json:"keys"`
	FirstSeq    uint64          `json:"first_seq"`
	Retention   string          `json:"retention"`
	SchemaID    string          `json:"schema_id"`
	Schema      json.RawMessage `json:"schema"`
}
