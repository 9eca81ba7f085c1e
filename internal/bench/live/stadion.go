package live

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/client"
)

// liveBenchConfig opens every room to anonymous viewers, with no per-user
// rate limit, room for the longest benchmark comment, the banned-word list
// of the moderation workload, and room for the reconnect storm's
// anonymous persistent sessions; client bench issues viewer tokens.
const liveBenchConfig = `# written by stadion bench live
clients:
  bench: {roles: [live-issuer]}
live:
  rooms: ["*"]
  anonymous_read: true
  user_rate: "off"
  max_length: 1000
  flood_users: 1000000
  banned_words_file: banned.txt
  mqtt:
    max_anonymous_sessions: 20000  # the reconnect storm's persistent sessions
`

// bannedWordAlphabet are the letters banned words are made of; the
// benchmark's comments (commentFiller) use none of them.
const bannedWordAlphabet = "jkqvwxz"

// bannedWord is the i-th word of the benchmark's banned list: "xq" and
// five letters of bannedWordAlphabet (16,807 distinct words).
func bannedWord(i int) string {
	b := []byte("xq")
	for range 5 {
		b = append(b, bannedWordAlphabet[i%len(bannedWordAlphabet)])
		i /= len(bannedWordAlphabet)
	}
	return string(b)
}

func writeLiveConfig(dir string, banned int) (string, error) {
	var words strings.Builder
	for i := range banned {
		words.WriteString(bannedWord(i))
		words.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(dir, "banned.txt"), []byte(words.String()), 0o600); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "stadion.yaml")
	return path, os.WriteFile(path, []byte(liveBenchConfig), 0o600)
}

// startStadionLive runs `stadion up` with the bench configuration and its
// MQTT listener on a free loopback port.
func startStadionLive(ctx context.Context, bin, dir string, banned int) (*liveBroker, error) {
	cfg, err := writeLiveConfig(dir, banned)
	if err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	c, err := rig.StartChild(ctx, bin, filepath.Join(dir, "data"), "--config", cfg, "--mqtt", addr, "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	p := &brokerProc{cmd: c.Cmd, stderr: c.Stderr, exited: c.Exited}
	if err := p.waitMQTT(ctx, addr); err != nil {
		c.Stop(10 * time.Second)
		return nil, fmt.Errorf("stadion: %w", err)
	}
	key, err := createIssuerKey(ctx, c)
	if err != nil {
		c.Stop(10 * time.Second)
		return nil, err
	}
	issuer := &client.Client{Base: c.Ep.HTTP, Token: key, HTTP: http.DefaultClient}
	return &liveBroker{
		name: "stadion", addr: addr, pid: c.Cmd.Process.Pid, comments: liveComments, post: livePost,
		posters:   func(ctx context.Context, n int) ([]liveCred, error) { return viewerTokens(ctx, issuer, n) },
		stop:      func() error { return c.Stop(10 * time.Second) },
		coldStart: c.ColdStart,
	}, nil
}

// createIssuerKey gives client bench an API key, with the admin key.
func createIssuerKey(ctx context.Context, c *rig.Child) (string, error) {
	admin := &client.Client{Base: c.Ep.HTTP, Token: c.AdminKey, HTTP: http.DefaultClient}
	var key struct {
		Key string `json:"key"`
	}
	if err := admin.Do(ctx, "POST", "/v1/clients/bench/keys", "", nil, nil, &key); err != nil {
		return "", fmt.Errorf("creating a key for client bench: %w", err)
	}
	return key.Key, nil
}

// viewerTokens issues n viewer tokens, one user each.
func viewerTokens(ctx context.Context, issuer *client.Client, n int) ([]liveCred, error) {
	creds := make([]liveCred, n)
	for i := range creds {
		user := "u" + strconv.Itoa(i)
		body, _ := json.Marshal(map[string]string{"user": user, "name": "Bench viewer " + strconv.Itoa(i)})
		var tok struct {
			Token string `json:"token"`
		}
		if err := issuer.Do(ctx, "POST", "/v1/live/tokens", "application/json", body, nil, &tok); err != nil {
			return nil, fmt.Errorf("issuing a viewer token: %w", err)
		}
		if tok.Token == "" {
			return nil, fmt.Errorf("issuing a viewer token: no token in the answer")
		}
		creds[i] = liveCred{User: user, Password: tok.Token}
	}
	return creds, nil
}
