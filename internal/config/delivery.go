package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Database is one SQL database that sinks write into.
type Database struct {
	// URL is sqlite://FILE (relative paths resolve under --data; three
	// slashes for an absolute path) or postgres://user:pass@host/db.
	URL string `yaml:"url"`
}

// Sink consumes a topic and upserts every event as a row of a SQL table.
type Sink struct {
	Topic    string `yaml:"topic"`
	Database string `yaml:"database"`
	Table    string `yaml:"table"`
	// Key lists the columns of the table's primary key (the upsert key).
	Key []string `yaml:"key"`
	// Columns maps a column to a JSON pointer into the event data.
	Columns map[string]string `yaml:"columns"`
	// Types declares column types; the rest are inferred from the topic's
	// schema, or text.
	Types       map[string]ColumnType `yaml:"types"`
	Batch       Batch                 `yaml:"batch"`
	MaxRate     Rate                  `yaml:"max_rate"`
	MaxAttempts int                   `yaml:"max_attempts"`
}

// Batch bounds how many rows a sink cuts into one batch and how long it
// waits to fill one. A batch is one transaction, except when commits fall
// behind: then up to 4 batches already waiting share one.
type Batch struct {
	Size    int      `yaml:"size"`
	MaxWait Duration `yaml:"max_wait"`
}

// ColumnType is the SQL type of a sink column.
type ColumnType string

// Column types. Each backend maps them to its own SQL types.
const (
	TypeText      ColumnType = "text"
	TypeBigint    ColumnType = "bigint"
	TypeDouble    ColumnType = "double"
	TypeBoolean   ColumnType = "boolean"
	TypeTimestamp ColumnType = "timestamp"
	TypeJSON      ColumnType = "json"
)

var columnTypes = []ColumnType{TypeText, TypeBigint, TypeDouble, TypeBoolean, TypeTimestamp, TypeJSON}

// DefaultDatabase is the database sinks use when they name none; unless
// declared it is the SQLite file stadion.db under --data.
const DefaultDatabase = "main"

// Rate is a number of rows per second, written 2000/s, 500/m or 10/h; zero
// means unlimited.
type Rate float64

// ParseRate parses a Rate.
func ParseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	n, err := strconv.ParseFloat(num, 64)
	if !ok || per == 0 || err != nil || n < 0 {
		return 0, fmt.Errorf("invalid rate %q (want e.g. 2000/s, 500/m)", s)
	}
	return Rate(n / per.Seconds()), nil
}

// UnmarshalYAML accepts a rate string.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseRate(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*r = v
	return nil
}

func (c *Config) setDeliveryDefaults() {
	if c.Databases == nil {
		c.Databases = map[string]*Database{}
	}
	if c.Databases[DefaultDatabase] == nil {
		c.Databases[DefaultDatabase] = &Database{URL: "sqlite://stadion.db"}
	}
	if c.Sinks == nil {
		c.Sinks = map[string]*Sink{}
	}
	for name, s := range c.Sinks {
		if s == nil {
			s = &Sink{}
			c.Sinks[name] = s
		}
		if s.Database == "" {
			s.Database = DefaultDatabase
		}
		if s.Table == "" {
			s.Table = strings.ReplaceAll(name, "-", "_")
		}
		if s.Batch.Size == 0 {
			s.Batch.Size = 500
		}
		if s.Batch.MaxWait == 0 {
			s.Batch.MaxWait = Duration(200 * time.Millisecond)
		}
		if s.MaxAttempts == 0 {
			s.MaxAttempts = 5
		}
	}
}

// SinkNames returns the configured sink names, sorted.
func (c *Config) SinkNames() []string { return sortedKeys(c.Sinks) }

func (c *Config) validateDelivery() []error {
	var errs []error
	for _, name := range sortedKeys(c.Databases) {
		if err := validateDatabaseURL(c.Databases[name]); err != nil {
			errs = append(errs, fieldErr("databases."+name+".url", "%v", err))
		}
	}
	for _, name := range sortedKeys(c.Sinks) {
		errs = append(errs, c.validateSink(name, c.Sinks[name])...)
	}
	return errs
}

func validateDatabaseURL(d *Database) error {
	if d == nil || d.URL == "" {
		return fmt.Errorf("required")
	}
	for _, p := range []string{"sqlite://", "postgres://", "postgresql://"} {
		if strings.HasPrefix(d.URL, p) && len(d.URL) > len(p) {
			return nil
		}
	}
	return fmt.Errorf("want sqlite://FILE or postgres://..., not %q", redactURL(d.URL))
}

// redactURL drops everything after the scheme, which may hold a password.
func redactURL(u string) string {
	if scheme, _, ok := strings.Cut(u, "://"); ok {
		return scheme + "://..."
	}
	return "..."
}

func (c *Config) validateSink(name string, s *Sink) []error {
	field := "sinks." + name
	var errs []error
	add := func(sub, format string, args ...any) {
		errs = append(errs, fieldErr(field+sub, format, args...))
	}
	if !validName(name) {
		add("", "name must be lower-case letters, digits, '-' or '_' (at most 64)")
	}
	if _, ok := c.Topics[s.Topic]; !ok {
		add(".topic", "unknown topic %q", s.Topic)
	}
	if _, ok := c.Databases[s.Database]; !ok {
		add(".database", "unknown database %q (declare it under databases)", s.Database)
	}
	if !validIdent(s.Table) {
		add(".table", "must be a SQL identifier (a-z, 0-9, '_', starting with a letter), not %q", s.Table)
	}
	if len(s.Key) == 0 {
		add(".key", "required: the columns of the upsert key")
	}
	for i, k := range s.Key {
		if _, ok := s.Columns[k]; !ok {
			add(fmt.Sprintf(".key[%d]", i), "%q is not one of the columns", k)
		}
	}
	for _, col := range sortedKeys(s.Columns) {
		if !validIdent(col) {
			add(".columns."+col, "must be a SQL identifier (a-z, 0-9, '_', starting with a letter)")
		}
		if p := s.Columns[col]; p != "" && !strings.HasPrefix(p, "/") {
			add(".columns."+col, "must be a JSON pointer starting with '/', not %q", p)
		}
	}
	for _, col := range sortedKeys(s.Types) {
		if _, ok := s.Columns[col]; !ok {
			add(".types."+col, "not one of the columns")
		}
		if !slices.Contains(columnTypes, s.Types[col]) {
			add(".types."+col, "must be one of %v, not %q", columnTypes, s.Types[col])
		}
	}
	if s.Batch.Size < 1 || s.Batch.Size > 10000 {
		add(".batch.size", "must be 1-10000")
	}
	if s.Batch.MaxWait < 0 {
		add(".batch.max_wait", "must not be negative")
	}
	if s.MaxAttempts < 1 {
		add(".max_attempts", "must be at least 1")
	}
	return errs
}

// validIdent accepts lower-case SQL identifiers that need no quoting in
// SQLite or PostgreSQL and cannot collide with the bookkeeping columns
// (which start with '_').
func validIdent(s string) bool {
	if s == "" || len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
