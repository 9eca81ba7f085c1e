package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

var sinksCmd = &command{
	name:  "sinks",
	short: "show database sinks; pause, resume, list and redrive dead letters (operator or admin)",
	usage: "[NAME | pause NAME | resume NAME | dead-letters NAME | redrive NAME [ID...] | drop NAME [ID...]]",
	long: `Without arguments, lists every sink: state, rows/s, lag (events not yet
written), rows written, dead letters and the last error. Rows written,
rows/s and the last error are those of the server asked; lag and dead
letters cover every replica. A pause holds the sink on every replica.
redrive writes dead letters (all, or the given IDs) into the table again;
drop deletes them.`,
	example: `stadion sinks
stadion sinks arrivals-db --json
stadion sinks pause arrivals-db
stadion sinks dead-letters arrivals-db
stadion sinks redrive arrivals-db 12 13`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		return func(ctx context.Context, env Env, args []string) error {
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			return sinksRun(ctx, env, r, rf.json, args)
		}
	},
}

func sinksRun(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
	if len(args) == 0 {
		return sinksList(ctx, env, r, asJSON)
	}
	if len(args) == 1 {
		var st json.RawMessage
		if err := r.Do(ctx, "GET", client.SinkPath(args[0], ""), "", nil, nil, &st); err != nil {
			return err
		}
		return cmdio.PrintJSON(env.Stdout, st)
	}
	action, name, rest := args[0], args[1], args[2:]
	var out json.RawMessage
	switch action {
	case "pause", "resume":
		if len(rest) > 0 {
			return usageErr("%s takes one NAME", action)
		}
		err := r.Do(ctx, "POST", client.SinkPath(name, "/"+action), "", nil, nil, &out)
		if err != nil || asJSON {
			return errOr(err, cmdio.PrintJSON(env.Stdout, out))
		}
		fmt.Fprintf(env.Stdout, "%s: %sd\n", name, action)
		return nil
	case "dead-letters":
		err := r.Do(ctx, "GET", client.SinkPath(name, "/dead-letters?limit=1000"), "", nil, nil, &out)
		return errOr(err, cmdio.PrintJSON(env.Stdout, out))
	case "redrive", "drop":
		body, err := sinkIDsBody(rest)
		if err != nil {
			return err
		}
		method, path := "POST", "/dead-letters/redrive"
		if action == "drop" {
			method, path = "DELETE", "/dead-letters"
		}
		err = r.Do(ctx, method, client.SinkPath(name, path), "application/json", body, nil, &out)
		return errOr(err, cmdio.PrintJSON(env.Stdout, out))
	}
	return usageErr("unknown sinks action %q (want pause, resume, dead-letters, redrive or drop)", action)
}

func errOr(err, next error) error {
	if err != nil {
		return err
	}
	return next
}

func sinkIDsBody(args []string) ([]byte, error) {
	ids := []uint64{}
	for _, a := range args {
		id, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return nil, usageErr("dead-letter IDs are numbers, not %q", a)
		}
		ids = append(ids, id)
	}
	return json.Marshal(map[string][]uint64{"ids": ids})
}

func sinksList(ctx context.Context, env Env, r *client.Client, asJSON bool) error {
	var list struct {
		Sinks []client.SinkRow `json:"sinks"`
	}
	if err := r.Do(ctx, "GET", "/v1/sinks", "", nil, nil, &list); err != nil {
		return err
	}
	if asJSON {
		return cmdio.PrintJSON(env.Stdout, list)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SINK\tTOPIC\tTABLE\tSTATE\tROWS/S\tLAG\tROWS\tDEAD\tLAST ERROR")
	for _, s := range list.Sinks {
		lastErr := orDash(s.LastError)
		if s.LastErrorAt != nil {
			lastErr = shortTime(*s.LastErrorAt) + " " + sinkTruncate(s.LastError, 60)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s.%s\t%s\t%.0f\t%d\t%d\t%d\t%s\n", s.Name, s.Topic, s.Database, s.Table,
			s.State, s.RowsPerSec, s.Lag, s.RowsWritten, s.DeadLetters, lastErr)
	}
	return tw.Flush()
}

func sinkTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
