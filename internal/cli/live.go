package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

var liveCmd = &command{
	name:  "live",
	short: "live comment rooms: viewer tokens, room state, pinned messages, stats",
	long: `Viewers watch live/{room}/comments over MQTT (mqtt://host:1883, or ws://host:8080/mqtt
from a browser) and post to live/{room}/post with a viewer token as the MQTT password.
A viewer token is valid for live.token_ttl; "stadion live revoke USER" ends every token
issued to USER so far and closes USER's open MQTT connections on every process.
These commands use the admin key by default (--token to act as another client).`,
	example: `stadion live token u1 "Li Wei"          # a viewer token: the MQTT password of u1
stadion live stats opening-ceremony
stadion live state curling slow 10s         # one comment per user per 10 s
stadion live pin curling '{"text":"Welcome to the final"}'
stadion live revoke u1                      # u1's tokens so far stop working, u1 is disconnected`,
	sub: []*command{liveTokenCmd, liveRevokeCmd, liveStatsCmd, liveStateCmd, livePinCmd},
}

var liveTokenCmd = &command{
	name:  "token",
	short: "mint a viewer token for USER with a display NAME (needs the live-issuer role)",
	usage: "USER NAME",
	example: `stadion live token u1 "Li Wei"
mosquitto_pub -p 1883 -t live/curling/post -u u1 -P "$(stadion live token u1 'Li Wei')" -m 'Great stone!'`,
	nargs: 2, argsErr: "live token needs USER and NAME",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		body, _ := json.Marshal(map[string]string{"user": args[0], "name": args[1]})
		var out struct {
			Token   string `json:"token"`
			Expires string `json:"expires"`
		}
		if err := liveDo(ctx, r, "POST", "/v1/live/tokens", body, &out); err != nil {
			return err
		}
		if asJSON {
			return cmdio.PrintJSON(env.Stdout, out)
		}
		fmt.Fprintln(env.Stdout, out.Token)
		return nil
	},
}

var liveRevokeCmd = &command{
	name:  "revoke",
	short: "end every viewer token issued to USER so far and close USER's MQTT connections (needs the live-issuer role)",
	usage: "USER",
	example: `stadion live revoke u1
stadion live token u1 "Li Wei"   # a token issued afterwards works again`,
	nargs: 1, argsErr: "live revoke needs one USER",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		body, _ := json.Marshal(map[string]string{"user": args[0]})
		var out struct {
			User      string `json:"user"`
			RevokedAt string `json:"revoked_at"`
			Until     string `json:"until"`
		}
		if err := liveDo(ctx, r, "POST", "/v1/live/revocations", body, &out); err != nil {
			return err
		}
		if asJSON {
			return cmdio.PrintJSON(env.Stdout, out)
		}
		fmt.Fprintf(env.Stdout, "revoked viewer %s at %s: tokens issued until then are refused (kept until %s, when they have all expired)\n",
			out.User, out.RevokedAt, out.Until)
		return nil
	},
}

var liveStatsCmd = &command{
	name:    "stats",
	short:   "show a room's viewers, comments per second and rejections",
	usage:   "ROOM",
	example: `stadion live stats opening-ceremony --json`,
	nargs:   1, argsErr: "live stats needs one ROOM",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		var st client.LiveStats
		if err := liveDo(ctx, r, "GET", "/v1/live/"+url.PathEscape(args[0]), nil, &st); err != nil {
			return err
		}
		if asJSON {
			return cmdio.PrintJSON(env.Stdout, st)
		}
		state := st.State.State
		if st.State.Slow != "" {
			state += " (" + st.State.Slow + ")"
		}
		var rej []string
		for r, n := range st.Rejected {
			rej = append(rej, fmt.Sprintf("%s %d", r, n))
		}
		sort.Strings(rej)
		fmt.Fprintf(env.Stdout, "room %s: %s, %d viewers, %.1f comments/s, %d accepted, rejected: %s (%d processes)\n",
			st.Room, state, st.Viewers, st.PerSecond, st.Accepted, orDash(strings.Join(rej, ", ")), st.Processes)
		return nil
	},
}

var liveStateCmd = &command{
	name:    "state",
	short:   "open or close a room, or put it in slow mode (needs the live-moderator role)",
	usage:   "ROOM open|closed|slow DURATION",
	example: `stadion live state curling closed`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		return func(ctx context.Context, env Env, args []string) error {
			st := map[string]string{}
			switch {
			case len(args) == 2 && (args[1] == "open" || args[1] == "closed"):
				st["state"] = args[1]
			case len(args) == 3 && args[1] == "slow":
				st["state"], st["slow"] = "slow", args[2]
			default:
				return usageErr("live state needs ROOM open, ROOM closed or ROOM slow DURATION")
			}
			body, _ := json.Marshal(st)
			var out map[string]any
			if err := liveCall(ctx, env, rf, "PUT", "/v1/live/"+url.PathEscape(args[0]), body, &out); err != nil {
				return err
			}
			if rf.json {
				return cmdio.PrintJSON(env.Stdout, out)
			}
			fmt.Fprintf(env.Stdout, "room %s is now %s\n", args[0], strings.Join(args[1:], " "))
			return nil
		}
	},
}

var livePinCmd = &command{
	name:    "pin",
	short:   "set a room's pinned (retained) message, a JSON document; --clear removes it",
	usage:   "ROOM [JSON]",
	example: `stadion live pin curling '{"text":"Final: CAN v SWE, 14:05"}'`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		clear := fs.Bool("clear", false, "remove the pinned message")
		return func(ctx context.Context, env Env, args []string) error {
			path := "/v1/live/" + url.PathEscape(firstOr(args, "")) + "/pinned"
			var pinned json.RawMessage
			switch {
			case *clear && len(args) == 1:
				if err := liveCall(ctx, env, rf, "DELETE", path, nil, nil); err != nil {
					return err
				}
			case !*clear && len(args) == 2:
				if !json.Valid([]byte(args[1])) {
					return usageErr("the pinned message must be a JSON document, e.g. '{\"text\":\"...\"}'")
				}
				if err := liveCall(ctx, env, rf, "PUT", path, []byte(args[1]), nil); err != nil {
					return err
				}
				pinned = json.RawMessage(args[1])
			default:
				return usageErr("live pin needs ROOM JSON, or ROOM --clear")
			}
			if rf.json {
				return cmdio.PrintJSON(env.Stdout, map[string]any{"room": args[0], "pinned": pinned})
			}
			if pinned == nil {
				fmt.Fprintf(env.Stdout, "room %s: pinned message removed\n", args[0])
			} else {
				fmt.Fprintf(env.Stdout, "room %s: pinned %s; viewers joining now receive it first (retained)\n", args[0], args[1])
			}
			return nil
		}
	},
}

func liveCall(ctx context.Context, env Env, rf remoteFlags, method, path string, body []byte, out any) error {
	r, err := rf.remote(env)
	if err != nil {
		return err
	}
	return liveDo(ctx, r, method, path, body, out)
}

func liveDo(ctx context.Context, r *client.Client, method, path string, body []byte, out any) error {
	ct := ""
	if body != nil {
		ct = "application/json"
	}
	return r.Do(ctx, method, path, ct, body, nil, out)
}

func firstOr(args []string, def string) string {
	if len(args) > 0 {
		return args[0]
	}
	return def
}
