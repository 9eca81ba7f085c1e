package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

// remoteFlags are the flags of every command that talks to a server.
type remoteFlags struct {
	server, token, data string
	json                bool
}

func (f *remoteFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.server, "server", "", "server URL (default: $STADION_SERVER, <data>/endpoints.json, http://127.0.0.1:8080)")
	fs.StringVar(&f.token, "token", "", "API key (default: $STADION_TOKEN, then <data>/admin.key)")
	fs.StringVar(&f.data, "data", defaultDataDir, "data directory of a local server, for its endpoints and admin key")
	fs.BoolVar(&f.json, "json", false, "machine-readable JSON output")
}

// remote is the API client the flags name.
func (f *remoteFlags) remote(env Env) (*client.Client, error) {
	r := &client.Client{Base: f.server, Token: f.token, HTTP: &http.Client{}}
	if r.Base == "" {
		r.Base = env.Getenv("STADION_SERVER")
	}
	if r.Base == "" {
		r.Base = "http://127.0.0.1:8080"
		if raw, err := os.ReadFile(filepath.Join(f.data, client.EndpointsFile)); err == nil {
			var ep client.Endpoints
			if json.Unmarshal(raw, &ep) == nil && ep.HTTP != "" {
				r.Base = ep.HTTP
			}
		}
	}
	r.Base = strings.TrimRight(r.Base, "/")
	if r.Token == "" {
		r.Token = env.Getenv("STADION_TOKEN")
	}
	if r.Token == "" {
		raw, err := os.ReadFile(filepath.Join(f.data, "admin.key"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no API key: pass --token KEY, set STADION_TOKEN, or point --data at the server's data directory (no %s there)", filepath.Join(f.data, "admin.key"))
		}
		if err != nil {
			return nil, err
		}
		r.Token = strings.TrimSpace(string(raw))
	}
	return r, nil
}

// printDone reports an action that returns nothing: the object as JSON
// with --json, the sentence otherwise.
func printDone(env Env, asJSON bool, obj map[string]any, format string, args ...any) error {
	if asJSON {
		return cmdio.PrintJSON(env.Stdout, obj)
	}
	_, err := fmt.Fprintf(env.Stdout, format+"\n", args...)
	return err
}

// shortTime and orDash are cmdio's table cells, under the names the key,
// freeze and approval commands use.
var shortTime, orDash = cmdio.ShortTime, cmdio.OrDash
