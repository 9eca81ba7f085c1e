package exchange

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

// Subjects and streams. Every topic is one JetStream stream named
// TOPIC_<name> holding subjects topic.<name>.<key>; <key> is the event's key
// (subject) when the topic has one, "_" otherwise. Plain NATS consumers
// filter on these subjects (see docs/ARCHITECTURE.md).
const (
	streamPrefix  = "TOPIC_"
	subjectPrefix = "topic."
	noKeyToken    = "_"
)

// StreamName returns the stream that holds topic.
func StreamName(topic string) string { return streamPrefix + topic }

// SubjectFilter returns the subjects of all events of topic.
func SubjectFilter(topic string) string { return subjectPrefix + topic + ".>" }

// topic is a configured topic at run time.
type topic struct {
	name   string
	cfg    *config.Topic
	schema *Schema
	stream jetstream.Stream
	// commit shares fsyncs between concurrent writes (commit.go); nil
	// where each write is published on its own.
	commit *groupCommit
}

func (t *topic) subject(keyToken string) string {
	return subjectPrefix + t.name + "." + keyToken
}

// keyToken turns a key value into one subject token. Keys made of
// [A-Za-z0-9_-] are used as they are (readable for plain NATS consumers);
// anything else is "~" + base64url, so distinct keys never collide.
func keyToken(key string) string {
	if key == "" {
		return noKeyToken
	}
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "~" + base64.RawURLEncoding.EncodeToString([]byte(key))
		}
	}
	return key
}

// streamConfig is the JetStream stream for a topic. maxMsg bounds a
// stored event, so that readers can bound what they fetch (see streamBytes).
func streamConfig(name string, t *config.Topic, dedupe time.Duration, maxMsg int32) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		MaxMsgSize:  maxMsg,
		Name:        StreamName(name),
		Description: fmt.Sprintf("stadion topic %s (%s)", name, t.Kind),
		Subjects:    []string{SubjectFilter(name)},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      t.Retention.D(),
		MaxBytes:    maxBytes(t.MaxBytes),
		Duplicates:  dedupe,
		AllowDirect: true,
		// Only stadion's own connection may publish into a topic's
		// subjects (docs/SECURITY.md), so only it can open batches.
		AllowAtomicPublish: true,
		Metadata:           map[string]string{"stadion.topic": name, "stadion.kind": string(t.Kind)},
	}
}

func maxBytes(s config.Size) int64 {
	if s <= 0 {
		return -1
	}
	return int64(s)
}

// extractKey resolves the topic's key pointer in data (decoded with
// UseNumber). Keys must be strings or integers.
func extractKey(data any, pointer string) (string, error) {
	v, err := resolvePointer(data, pointer)
	if err != nil {
		return "", err
	}
	switch k := v.(type) {
	case string:
		if k == "" || len(k) > 256 {
			return "", fmt.Errorf("key at %s must be 1-256 characters", pointer)
		}
		return k, nil
	case json.Number:
		if _, err := strconv.ParseInt(string(k), 10, 64); err != nil {
			return "", fmt.Errorf("key at %s must be a string or an integer", pointer)
		}
		return string(k), nil
	default:
		return "", fmt.Errorf("key at %s must be a string or an integer", pointer)
	}
}

// resolvePointer follows an RFC 6901 JSON pointer.
func resolvePointer(doc any, pointer string) (any, error) {
	cur := doc
	for _, tok := range api.PointerTokens(pointer) {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("key %s is missing", pointer)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("key %s is missing", pointer)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("key %s is missing", pointer)
		}
	}
	return cur, nil
}
