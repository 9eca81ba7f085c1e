// Package config defines stadion.yaml: the struct tree, its defaults and its
// validation. Every command that starts services loads one Config before
// anything else runs, so a bad file stops start-up with an error that names
// the offending field. Any package may import config; config imports none of
// stadion's own packages.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Durability says when the engine acknowledges a write.
type Durability string

const (
	// DurabilityAlways acknowledges a write only after it is fsynced.
	DurabilityAlways Durability = "always"
	// DurabilityFast acknowledges once the write is in the engine's memory;
	// the engine flushes to disk lazily. An explicit opt-in.
	DurabilityFast Durability = "fast"
)

// Config is the whole of stadion.yaml.
type Config struct {
	Durability Durability           `yaml:"durability"`
	Engine     Engine               `yaml:"engine"`
	Exchange   Exchange             `yaml:"exchange"`
	Metrics    Metrics              `yaml:"metrics"`
	Topics     map[string]*Topic    `yaml:"topics"`
	Clients    map[string]*Client   `yaml:"clients"`
	Databases  map[string]*Database `yaml:"databases"`
	Sinks      map[string]*Sink     `yaml:"sinks"`
	Webhooks   Webhooks             `yaml:"webhooks"`
	Live       Live                 `yaml:"live"`
	Venues     map[string]*Venue    `yaml:"venues"`
	Gate       Gate                 `yaml:"gate"`
	Capture    Capture              `yaml:"capture"`
	SLOs       map[string]*SLO      `yaml:"slos"`
	SLOPolicy  SLOPolicy            `yaml:"slo_policy"`
	Alerts     Alerts               `yaml:"alerts"`
	Anomalies  Anomalies            `yaml:"anomalies"`
	Health     Health               `yaml:"health"`
	// Plans are emergency presets of limits (limits.go).
	Plans map[string]*Plan `yaml:"plans"`

	// Dir is the directory relative paths in the file are resolved against,
	// inside FS. Set by Load.
	Dir string `yaml:"-"`
	// FS holds the file and the files it names (schemas). Set by Load.
	FS fs.FS `yaml:"-"`
}

// Engine sizes the embedded engine's JetStream storage and says how it is
// replicated and clustered (engine_cluster.go).
type Engine struct {
	MaxMemory Size `yaml:"max_memory"`
	MaxDisk   Size `yaml:"max_disk"`
	// Replicas is how many copies of every stream, KV bucket and object
	// store stadion creates: 1, 3 or 5.
	Replicas int `yaml:"replicas"`
	// PlacementTags pin every stream, bucket and object store to engine
	// nodes carrying all these tags (e.g. az:eu-west-1a).
	PlacementTags []string `yaml:"placement_tags"`
	// ServerTags are this node's own tags, matched by placement tags.
	ServerTags []string `yaml:"server_tags"`
	// Node names this engine node in the cluster (default: the hostname).
	Node    string        `yaml:"node"`
	Cluster EngineCluster `yaml:"cluster"`
}

// Exchange holds limits of the data exchange's HTTP API.
type Exchange struct {
	MaxBody      Size     `yaml:"max_body"`
	DedupeWindow Duration `yaml:"dedupe_window"`
	// NATSConsumersPerClient caps the JetStream consumers one client may
	// create over plain NATS (all its topics together).
	NATSConsumersPerClient int `yaml:"nats_consumers_per_client"`
	// StreamsPerClient caps the long-lived responses (SSE streams,
	// snapshots, pulls that wait) one client may hold open at once on one
	// stadion process.
	StreamsPerClient int `yaml:"streams_per_client"`
	// StreamStall is how long a long-lived response may wait for its
	// reader to take a write before it is cut.
	StreamStall Duration `yaml:"stream_stall"`
}

// Metrics configures GET /metrics.
type Metrics struct {
	// Auth, when true (the default), makes /metrics answer only the admin
	// key or a key of a client with the metrics role: its labels name
	// subscriptions, sinks and capture jobs. false serves it to anyone who
	// reaches the port.
	Auth *bool `yaml:"auth"`
}

// RoleMetrics lets a client's keys read /metrics when metrics.auth is on.
const RoleMetrics = "metrics"

// MetricsAuth reports whether /metrics needs a key.
func (m Metrics) MetricsAuth() bool { return m.Auth == nil || *m.Auth }

// TopicKind is realtime (notifications) or sync (latest state per key).
type TopicKind string

// Topic kinds.
const (
	KindRealtime TopicKind = "realtime"
	KindSync     TopicKind = "sync"
)

// Topic is one durable, validated, authorized stream of events.
type Topic struct {
	Kind        TopicKind `yaml:"kind"`
	Schema      string    `yaml:"schema"`
	Key         string    `yaml:"key"`
	Type        string    `yaml:"type"`
	Retention   Duration  `yaml:"retention"`
	MaxBytes    Size      `yaml:"max_bytes"`
	Publishers  []string  `yaml:"publishers"`
	Subscribers []string  `yaml:"subscribers"`
	Description string    `yaml:"description"`
}

// Client is a system that talks to stadion with API keys.
type Client struct {
	Roles       []string `yaml:"roles"`
	Description string   `yaml:"description"`
}

// AdminClient is the name of the built-in client that may do everything.
const AdminClient = "admin"

// Parse decodes a config file's bytes, applies defaults and validates it.
// dir is the directory of the file inside fsys, for resolving schema paths.
func Parse(data []byte, fsys fs.FS, dir string) (*Config, error) {
	var c Config
	if err := unknownFields(data); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config: %w", nameFields(data, err))
	}
	c.FS, c.Dir = fsys, dir
	c.Live.set = !reflect.DeepEqual(c.Live, Live{})
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, placeFields(data, err)
	}
	return &c, nil
}

// Load reads name from fsys and parses it.
func Load(fsys fs.FS, name string) (*Config, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data, fsys, path.Dir(name))
	return c, inFile(err, path.Base(name))
}

// ReadFile reads a file named in the config (a schema), relative to the
// config file's directory.
func (c *Config) ReadFile(name string) ([]byte, error) {
	return fs.ReadFile(c.FS, path.Join(c.Dir, name))
}

func (c *Config) setDefaults() {
	if c.Durability == "" {
		c.Durability = DurabilityAlways
	}
	if c.Engine.MaxMemory == 0 {
		c.Engine.MaxMemory = 256 * MiB
	}
	if c.Engine.MaxDisk == 0 {
		c.Engine.MaxDisk = 10 * GiB
	}
	c.setEngineDefaults()
	if c.Exchange.MaxBody == 0 {
		c.Exchange.MaxBody = 1 * MiB
	}
	if c.Exchange.NATSConsumersPerClient == 0 {
		c.Exchange.NATSConsumersPerClient = 16
	}
	if c.Exchange.DedupeWindow == 0 {
		c.Exchange.DedupeWindow = Duration(2 * time.Minute)
	}
	if c.Exchange.StreamsPerClient == 0 {
		c.Exchange.StreamsPerClient = 32
	}
	if c.Exchange.StreamStall == 0 {
		c.Exchange.StreamStall = Duration(10 * time.Second)
	}
	if c.Topics == nil {
		c.Topics = map[string]*Topic{}
	}
	if c.Clients == nil {
		c.Clients = map[string]*Client{}
	}
	for name, t := range c.Topics {
		if t == nil {
			t = &Topic{}
			c.Topics[name] = t
		}
		if t.Kind == "" {
			t.Kind = KindRealtime
		}
		if t.Type == "" {
			t.Type = "stadion.topic." + name
		}
	}
	for name, cl := range c.Clients {
		if cl == nil {
			c.Clients[name] = &Client{}
		}
	}
	c.setDeliveryDefaults()
	c.setLiveDefaults()
	c.setGateDefaults()
	c.setCaptureDefaults()
	c.setSLODefaults()
	c.setHealthDefaults()
}

// HasRole reports whether the named client has role.
func (c *Config) HasRole(client, role string) bool {
	cl, ok := c.Clients[client]
	if !ok {
		return false
	}
	for _, r := range cl.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// CanPublish reports whether client may publish to topic.
func (t *Topic) CanPublish(client string) bool {
	return client == AdminClient || contains(t.Publishers, client)
}

// CanSubscribe reports whether client may read or subscribe to topic.
func (t *Topic) CanSubscribe(client string) bool {
	return client == AdminClient || contains(t.Subscribers, client)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// validName is the shape of topic and client names: they become parts of
// NATS subjects, stream names and URLs.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case (r == '-' || r == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// ValidName reports whether s may name a topic, client or subscription:
// lower-case letters, digits, '-' and '_', starting with a letter or digit,
// at most 64 characters.
func ValidName(s string) bool { return validName(s) }

func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...))
}

// decodeError is a YAML decoding error whose lines name their fields.
type decodeError struct {
	msg string
	err error
}

func (e *decodeError) Error() string { return e.msg }
func (e *decodeError) Unwrap() error { return e.err }

var lineRef = regexp.MustCompile(`line (\d+): `)

// nameFields puts the field in front of every "line N:" of a decoding
// error (topics.x.retention: line 4: invalid duration ...), so that these
// errors name their field as Validate's do.
func nameFields(data []byte, err error) error {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return err
	}
	fields := map[int][]string{}
	collectFields(&root, "", fields)
	msg := lineRef.ReplaceAllStringFunc(err.Error(), func(ref string) string {
		n, _ := strconv.Atoi(lineRef.FindStringSubmatch(ref)[1])
		if f := commonField(fields[n]); f != "" {
			return f + ": " + ref
		}
		return ref
	})
	return &decodeError{msg: msg, err: err}
}

// collectFields lists, per line, the paths of the keys and items on it.
func collectFields(n *yaml.Node, path string, out map[int][]string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			collectFields(c, path, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, p := n.Content[i], n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			out[k.Line] = append(out[k.Line], p)
			collectFields(n.Content[i+1], p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			out[c.Line] = append(out[c.Line], p)
			collectFields(c, p, out)
		}
	}
}

// commonField is the deepest path on the same branch as all paths of a
// line: the field itself when the line holds one key (and its parents in a
// flow mapping), their parent when a flow mapping puts siblings on it.
func commonField(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	common := paths[len(paths)-1]
	for _, p := range paths {
		for common != "" && !onBranch(p, common) {
			common = common[:max(strings.LastIndexAny(common, ".["), 0)]
		}
	}
	return common
}

// onBranch reports whether one of the paths a and b contains the other.
func onBranch(a, b string) bool {
	in := func(x, y string) bool {
		return x == y || strings.HasPrefix(x, y+".") || strings.HasPrefix(x, y+"[")
	}
	return in(a, b) || in(b, a)
}
