package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Live configures live comments: MQTT rooms, moderation, history and the
// bridge of exchange topics to MQTT. The capability is on when Rooms is
// set.
type Live struct {
	// Rooms lists the room names viewers may join; ["*"] allows any
	// valid name.
	Rooms []string `yaml:"rooms"`
	// AnonymousRead lets viewers subscribe without a token.
	AnonymousRead bool `yaml:"anonymous_read"`
	// History is how many comments per room are kept for late joiners.
	History int `yaml:"history"`
	// MaxLength is the longest comment, in characters.
	MaxLength int `yaml:"max_length"`
	// UserRate limits each user's posts, e.g. 5/10s; zero is unlimited.
	UserRate PostLimit `yaml:"user_rate"`
	// DuplicateWindow rejects a user repeating a text within it.
	DuplicateWindow Duration `yaml:"duplicate_window"`
	// FloodUsers is how many different users may post the same text in a
	// room within the duplicate window before the rest are rejected.
	FloodUsers int `yaml:"flood_users"`
	// BannedWords and the words in BannedWordsFile (one per line, '#'
	// starts a comment) are refused in comments. Both are re-read while
	// running when the files change.
	BannedWords     []string `yaml:"banned_words"`
	BannedWordsFile string   `yaml:"banned_words_file"`
	// Workers is the number of moderation workers in each process.
	Workers int `yaml:"workers"`
	// TokenTTL is how long a viewer token is valid.
	TokenTTL Duration `yaml:"token_ttl"`
	// MaxPacket is the largest MQTT packet a client may send.
	MaxPacket Size `yaml:"max_packet"`
	// Bridge republishes exchange topics to MQTT topics (medals:
	// games/medals).
	Bridge map[string]string `yaml:"bridge"`
	// MQTT bounds what one MQTT client may make the server hold.
	MQTT LiveMQTT `yaml:"mqtt"`

	// set is whether the file gave the section anything at all: a live
	// section without rooms is a mistake, never a silent off.
	set bool
}

// LiveMQTT bounds MQTT clients: time to finish a packet and to stay
// silent, open connections, subscriptions per connection and per
// persistent session, and
// persistent sessions per user (each viewer-token user, each API key) and
// for all anonymous viewers together. Caps count per process.
type LiveMQTT struct {
	// PacketTimeout is the time a packet has to arrive whole once its
	// first byte has, whatever the client's keep-alive.
	PacketTimeout Duration `yaml:"packet_timeout"`
	// IdleTimeout is the longest silence of a client whose keep-alive is
	// 0 or longer.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxConnections caps the open MQTT connections of a process (TCP
	// and WebSocket, logged in or not); more are closed at once.
	MaxConnections          int `yaml:"max_connections"`
	MaxSubscriptions        int `yaml:"max_subscriptions"`
	MaxSessionSubscriptions int `yaml:"max_session_subscriptions"`
	MaxSessionsPerUser      int `yaml:"max_sessions_per_user"`
	MaxAnonymousSessions    int `yaml:"max_anonymous_sessions"`
	// SessionExpiry is how long a persistent session (cleanSession=0)
	// is kept once its client is gone (1h; at most 24h, what the
	// comments stream keeps).
	SessionExpiry Duration `yaml:"session_expiry"`
	// MaxOfflineMessages and MaxOfflineBytes (payload) bound the
	// comments a returning persistent session gets of those published
	// while it was away (1000 and 1MiB): past either, the oldest are
	// dropped and counted in stadion_live_mqtt_offline_dropped_total.
	MaxOfflineMessages int  `yaml:"max_offline_messages"`
	MaxOfflineBytes    Size `yaml:"max_offline_bytes"`
}

// Enabled reports whether the configuration opens any room.
func (l *Live) Enabled() bool { return len(l.Rooms) > 0 }

// AnyRoom reports whether any valid room name may be joined.
func (l *Live) AnyRoom() bool { return len(l.Rooms) == 1 && l.Rooms[0] == "*" }

// HasRoom reports whether viewers may join room.
func (l *Live) HasRoom(room string) bool {
	if !validName(room) {
		return false
	}
	return l.AnyRoom() || contains(l.Rooms, room)
}

// PostLimit is a number of posts per period, written 5/10s; "off" or
// zero means unlimited.
type PostLimit struct {
	Count int
	Per   time.Duration
}

// ParsePostLimit parses a PostLimit.
func ParsePostLimit(s string) (PostLimit, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return PostLimit{}, nil
	}
	num, per, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 0 {
		return PostLimit{}, fmt.Errorf("invalid limit %q (want e.g. 5/10s, or off)", s)
	}
	if per != "" && (per[0] < '0' || per[0] > '9') {
		per = "1" + per
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return PostLimit{}, fmt.Errorf("invalid limit %q (want e.g. 5/10s, or off)", s)
	}
	return PostLimit{Count: n, Per: d}, nil
}

// UnmarshalYAML accepts a limit string.
func (p *PostLimit) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParsePostLimit(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*p = v
	return nil
}

// Off reports whether the limit is unlimited.
func (p PostLimit) Off() bool { return p.Count == 0 }

func (p PostLimit) String() string {
	if p.Off() {
		return "off"
	}
	return fmt.Sprintf("%d/%s", p.Count, p.Per)
}

func (c *Config) setLiveDefaults() {
	l := &c.Live
	if l.History == 0 {
		l.History = 500
	}
	if l.MaxLength == 0 {
		l.MaxLength = 280
	}
	if l.DuplicateWindow == 0 {
		l.DuplicateWindow = Duration(30 * time.Second)
	}
	if l.FloodUsers == 0 {
		l.FloodUsers = 20
	}
	if l.Workers == 0 {
		l.Workers = 2
	}
	if l.TokenTTL == 0 {
		l.TokenTTL = Duration(24 * time.Hour)
	}
	if l.MaxPacket == 0 {
		l.MaxPacket = 64 * KiB
	}
	m := &l.MQTT
	if m.PacketTimeout == 0 {
		m.PacketTimeout = Duration(10 * time.Second)
	}
	if m.IdleTimeout == 0 {
		m.IdleTimeout = Duration(5 * time.Minute)
	}
	if m.MaxConnections == 0 {
		m.MaxConnections = 100_000
	}
	if m.MaxSubscriptions == 0 {
		m.MaxSubscriptions = 100
	}
	if m.MaxSessionSubscriptions == 0 {
		m.MaxSessionSubscriptions = 100
	}
	if m.MaxSessionsPerUser == 0 {
		m.MaxSessionsPerUser = 16
	}
	if m.MaxAnonymousSessions == 0 {
		m.MaxAnonymousSessions = 1024
	}
	if m.SessionExpiry == 0 {
		m.SessionExpiry = Duration(time.Hour)
	}
	if m.MaxOfflineMessages == 0 {
		m.MaxOfflineMessages = 1000
	}
	if m.MaxOfflineBytes == 0 {
		m.MaxOfflineBytes = 1 * MiB
	}
}

func (c *Config) validateLive() []error {
	l := &c.Live
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fieldErr("live."+field, format, args...))
	}
	if l.set && len(l.Rooms) == 0 {
		add("rooms", `required when the live section is set: list the rooms viewers may join, or ["*"] for every room (without rooms live comments are off; remove the section to mean that)`)
	}
	for i, r := range l.Rooms {
		if r == "*" && len(l.Rooms) > 1 {
			add(fmt.Sprintf("rooms[%d]", i), `"*" allows every room and must be alone`)
		} else if r != "*" && !validName(r) {
			add(fmt.Sprintf("rooms[%d]", i), "room names are lower-case letters, digits, '-' or '_', not %q", r)
		}
	}
	if l.History < 1 || l.History > 100_000 {
		add("history", "must be between 1 and 100000")
	}
	if l.MaxLength < 1 || l.MaxLength > 10_000 {
		add("max_length", "must be between 1 and 10000")
	}
	if l.FloodUsers < 1 {
		add("flood_users", "must be at least 1")
	}
	if l.Workers < 1 || l.Workers > 256 {
		add("workers", "must be between 1 and 256")
	}
	if l.TokenTTL < Duration(time.Minute) {
		add("token_ttl", "must be at least 1m")
	}
	if l.MaxPacket < 1*KiB || l.MaxPacket > 16*MiB {
		add("max_packet", "must be between 1KiB and 16MiB")
	}
	m := l.MQTT
	if m.PacketTimeout < Duration(100*time.Millisecond) || m.PacketTimeout > Duration(10*time.Minute) {
		add("mqtt.packet_timeout", "must be between 100ms and 10m")
	}
	if m.IdleTimeout < Duration(time.Second) || m.IdleTimeout > Duration(24*time.Hour) {
		add("mqtt.idle_timeout", "must be between 1s and 24h")
	}
	if m.SessionExpiry < Duration(time.Second) || m.SessionExpiry > Duration(24*time.Hour) {
		add("mqtt.session_expiry", "must be between 1s and 24h (the comments stream keeps 24h)")
	}
	if m.MaxOfflineBytes < 1*KiB || m.MaxOfflineBytes > 1*GiB {
		add("mqtt.max_offline_bytes", "must be between 1KiB and 1GiB")
	}
	for _, c := range []struct {
		field string
		v     int
	}{
		{"mqtt.max_connections", m.MaxConnections}, {"mqtt.max_subscriptions", m.MaxSubscriptions}, {"mqtt.max_session_subscriptions", m.MaxSessionSubscriptions},
		{"mqtt.max_sessions_per_user", m.MaxSessionsPerUser}, {"mqtt.max_anonymous_sessions", m.MaxAnonymousSessions},
		{"mqtt.max_offline_messages", m.MaxOfflineMessages},
	} {
		if c.v < 1 || c.v > 1_000_000 {
			add(c.field, "must be between 1 and 1000000")
		}
	}
	for i, w := range l.BannedWords {
		if strings.TrimSpace(w) == "" {
			add(fmt.Sprintf("banned_words[%d]", i), "must not be empty")
		}
	}
	errs = append(errs, c.validateBridge()...)
	return errs
}

func (c *Config) validateBridge() []error {
	var errs []error
	seen := map[string]string{}
	for _, t := range sortedKeys(c.Live.Bridge) {
		field := "live.bridge." + t
		if _, ok := c.Topics[t]; !ok {
			errs = append(errs, fieldErr(field, "no topic %q is declared", t))
		}
		prefix := c.Live.Bridge[t]
		if err := CheckMQTTTopic(prefix); err != nil {
			errs = append(errs, fieldErr(field, "%v", err))
		} else if strings.HasPrefix(prefix, "live/") || prefix == "live" {
			errs = append(errs, fieldErr(field, "live/ belongs to the comment rooms"))
		} else if other, dup := seen[prefix]; dup {
			errs = append(errs, fieldErr(field, "MQTT topic %q is already the bridge of %s", prefix, other))
		}
		seen[prefix] = t
	}
	return errs
}

// CheckMQTTTopic checks an MQTT topic name that stadion publishes to: its
// levels must be non-empty and made of letters, digits, '-', '_' or '~'
// (so that they map onto engine subjects), at most 8 levels.
func CheckMQTTTopic(topic string) error {
	levels := strings.Split(topic, "/")
	if topic == "" || len(levels) > 8 {
		return fmt.Errorf("MQTT topic %q: want 1 to 8 levels separated by '/'", topic)
	}
	for _, lv := range levels {
		if !ValidTopicLevel(lv) {
			return fmt.Errorf("MQTT topic %q: level %q must be letters, digits, '-', '_' or '~'", topic, lv)
		}
	}
	return nil
}

// ValidTopicLevel reports whether an MQTT topic level can be carried as an
// engine subject token.
func ValidTopicLevel(lv string) bool {
	if lv == "" || len(lv) > 128 {
		return false
	}
	for i := 0; i < len(lv); i++ {
		c := lv[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}
