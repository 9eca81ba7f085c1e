package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/config"
)

var limitsCmd = &command{
	name:  "limits",
	short: "set, list, delete and watch runtime limits on every replica (operator or admin)",
	long: `A limit matches requests (HTTP and MQTT) by client, key id, User-Agent
(RE2; for MQTT the client identifier), source network, route, MQTT user or
anonymous, or venue, and lets through a rate (token bucket) or a number at
once; the rest is refused (HTTP 429 naming the limit, MQTT CONNECT refused,
MQTT posts dropped), or only counted with --shadow. Every replica applies a
change within a second; limits survive restarts.`,
	example: `stadion limits set badbot --user-agent '^BadBot/' --rate 1/s --burst 1 --ttl 1h
stadion limits set badbot --user-agent '^BadBot/' --rate 0          # block it
stadion limits watch
stadion limits delete badbot`,
	sub: []*command{limitsSetCmd, limitsListCmd, limitsDeleteCmd, limitsWatchCmd},
}

var limitsSetCmd = &command{
	name:  "set",
	short: "create or replace limit NAME",
	usage: "NAME",
	long: `Routes: "POST /v1/topics/*/events" (* is one segment, a final ** any rest),
"/v1/health" (any method), "CONNECT" and "PUBLISH live/*/post" (MQTT).
--file reads the limit as the JSON of PUT /v1/limits/{name}; flags given too
override it.`,
	example: `stadion limits set badbot --user-agent '^BadBot/' --rate 1/s --burst 1
stadion limits set odf-posts --client odf --route 'POST /v1/topics/*/events' --rate 200/s --per key
stadion limits set try-anon --route CONNECT --anonymous --rate 2000/s --scope cluster --shadow
stadion limits set sse --route 'GET /v1/topics/*/stream' --concurrency 4 --per client`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		var s config.LimitSpec
		var file, replaces string
		var shadow bool
		fs.StringVar(&file, "file", "", "read the limit from a JSON file (- for stdin)")
		fs.StringVar(&s.Match.UserAgent, "user-agent", "", "match User-Agent (RE2; MQTT: the client id)")
		fs.StringVar(&s.Match.Client, "client", "", "match an API client")
		fs.StringVar(&s.Match.KeyID, "key-id", "", "match one API key id")
		fs.StringVar(&s.Match.Source, "source", "", "match a source address or network (CIDR)")
		fs.StringVar(&s.Match.Route, "route", "", `match a route ("POST /v1/topics/*/events", CONNECT, "PUBLISH live/*/post")`)
		fs.StringVar(&s.Match.MQTTUser, "mqtt-user", "", "match a viewer token's user")
		fs.BoolVar(&s.Match.Anonymous, "anonymous", false, "match MQTT connections without credentials")
		fs.StringVar(&s.Match.Venue, "venue", "", "match requests about a venue (/v1/venues/{venue}/...)")
		fs.StringVar(&s.Rate, "rate", "", `COUNT/PERIOD (10/s, 1/5s, 100/min); 0 blocks`)
		fs.IntVar(&s.Burst, "burst", 0, "bucket size (default: the rate's count)")
		fs.IntVar(&s.Concurrency, "concurrency", 0, "HTTP requests in progress at once (streams count while open)")
		fs.StringVar(&s.Per, "per", "", "one bucket per client, key, user_agent, source, user or venue (default: one for all)")
		fs.BoolVar(&shadow, "shadow", false, "only count what would be refused")
		fs.StringVar(&s.Scope, "scope", "", "process (default) or cluster: the rate divided among the live processes")
		fs.StringVar(&s.TTL, "ttl", "", "remove the limit everywhere after this long (10m, 2h)")
		fs.StringVar(&replaces, "replaces", "", "comma-separated limits this one stands in for when both match")
		fs.StringVar(&s.Description, "description", "", "why the limit exists")
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) != 1 {
				return usageErr("limits set needs exactly one NAME")
			}
			set := map[string]bool{}
			fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
			spec, err := client.LimitSpecOf(env.Stdin, file, set, s, shadow, replaces)
			if err != nil {
				return err
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(spec)
			var out client.LimitRow
			if err := r.Do(ctx, "PUT", client.LimitPath(args[0]), "application/json", body, nil, &out); err != nil {
				return err
			}
			if rf.json {
				return cmdio.PrintJSON(env.Stdout, out)
			}
			fmt.Fprintf(env.Stderr, "limit %s: %s, %s (%s)%s\n", out.Name, client.DescribeMatch(out.Match), client.DescribeAmount(out.LimitSpec), out.Action, expiresNote(out.Expires))
			return nil
		}
	},
}

func expiresNote(t *time.Time) string {
	if t == nil {
		return ""
	}
	return ", until " + shortTime(*t)
}

var limitsListCmd = &command{
	name:    "list",
	short:   "list the limits in force",
	example: `stadion limits list`,
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		var out client.LimitList
		if err := r.Do(ctx, "GET", "/v1/limits", "", nil, nil, &out); err != nil {
			return err
		}
		if asJSON {
			return cmdio.PrintJSON(env.Stdout, out)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tMATCH\tLIMIT\tACTION\tEXPIRES\tPLAN\tSET BY")
		for _, l := range out.Limits {
			exp := "-"
			if l.Expires != nil {
				exp = shortTime(*l.Expires)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Name, client.DescribeMatch(l.Match), client.DescribeAmount(l.LimitSpec), l.Action, exp, orDash(l.Plan), l.By)
		}
		return tw.Flush()
	},
}

var limitsDeleteCmd = &command{
	name:    "delete",
	short:   "remove limit NAME everywhere",
	usage:   "NAME",
	example: `stadion limits delete badbot`,
	nargs:   1, argsErr: "limits delete needs exactly one NAME",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		if err := r.Do(ctx, "DELETE", client.LimitPath(args[0]), "", nil, nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "deleted limit %s\n", args[0])
		return nil
	},
}

var limitsWatchCmd = &command{
	name:  "watch",
	short: "show hits per limit per second, summed over every replica",
	long:  `Every interval it prints, per limit that was hit, the requests it matched, refused and (shadow limits) would have refused per second. Ctrl-C ends it.`,
	example: `stadion limits watch
stadion limits watch --interval 5s --count 12`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		every := fs.Duration("interval", time.Second, "how often to print")
		count := fs.Int("count", 0, "stop after this many prints (0: until Ctrl-C)")
		return func(ctx context.Context, env Env, args []string) error {
			if *every < 100*time.Millisecond {
				return usageErr("--interval must be at least 100ms")
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			return watchLimits(ctx, env, r, *every, *count, rf.json)
		}
	},
}

func watchLimits(ctx context.Context, env Env, r *client.Client, every time.Duration, count int, asJSON bool) error {
	return r.WatchLimits(ctx, every, count, func(out client.LimitList, rates []client.LimitRate) {
		if asJSON {
			_ = cmdio.PrintJSON(env.Stdout, map[string]any{"time": time.Now().UTC(), "processes": out.Processes, "limits": rates})
			return
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "%s\t%d processes\tMATCHED/s\tLIMITED/s\tSHADOW/s\n", time.Now().Format("15:04:05"), out.Processes)
		for _, rw := range rates {
			fmt.Fprintf(tw, "\t%s\t%.1f\t%.1f\t%.1f\n", rw.Limit, rw.Matched, rw.Limited, rw.ShadowLimited)
		}
		if len(rates) == 0 {
			fmt.Fprintln(tw, "\t(no limit hit)\t\t\t")
		}
		tw.Flush()
	})
}
