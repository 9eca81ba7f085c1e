package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

var sinksCmd = &command{
	name:  "sinks",
	short: "show database sinks; pause, resume, list and redrive dead letters (operator or admin)",
	usage: "[NAME | pause NAME | resume NAME | dead-letters NAME | redrive NAME [ID...] | drop NAME [ID...]]",
	long: `Without arguments, lists every sink: state, the rows its table holds,
rows/s, lag (events not yet written), rows written by the server asked
since it started, dead letters and the last error. Written, rows/s and the
last error are those of the server asked; rows, lag and dead letters cover
every replica (ROWS is "?" when the database does not answer within 2 s). A pause holds the sink on every replica.
redrive writes dead letters (all, or the given IDs) into the table again;
drop deletes them.`,
	example: `stadion sinks
stadion sinks arrivals-db --json
stadion sinks pause arrivals-db
stadion sinks dead-letters arrivals-db
stadion sinks redrive arrivals-db 12 13`,
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		return sinksRun(ctx, env, r, asJSON, args)
	},
}

func sinksRun(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
	if len(args) == 0 {
		return sinksList(ctx, env, r, asJSON)
	}
	if len(args) == 1 {
		switch args[0] {
		case "pause", "resume", "dead-letters", "redrive", "drop":
			return usageErr("sinks %s needs a sink NAME ('stadion sinks' lists them)", args[0])
		}
		var st client.SinkRow
		if err := r.Do(ctx, "GET", client.SinkPath(args[0], ""), "", nil, nil, &st); err != nil {
			return err
		}
		if asJSON {
			return cmdio.PrintJSON(env.Stdout, st)
		}
		return printSinks(env.Stdout, []client.SinkRow{st})
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
			return cmdio.ErrOr(err, cmdio.PrintJSON(env.Stdout, out))
		}
		fmt.Fprintf(env.Stdout, "%s: %sd\n", name, action)
		return nil
	case "dead-letters":
		if len(rest) > 0 {
			return usageErr("dead-letters takes one NAME")
		}
		err := r.Do(ctx, "GET", client.SinkPath(name, "/dead-letters?limit=1000"), "", nil, nil, &out)
		if err != nil || asJSON {
			return cmdio.ErrOr(err, cmdio.PrintJSON(env.Stdout, out))
		}
		return printSinkDeadLetters(env.Stdout, name, out)
	case "redrive", "drop":
		body, err := client.DeadLetterIDs(rest)
		if err != nil {
			return err
		}
		method, path := "POST", "/dead-letters/redrive"
		if action == "drop" {
			method, path = "DELETE", "/dead-letters"
		}
		err = r.Do(ctx, method, client.SinkPath(name, path), "application/json", body, nil, &out)
		if err != nil || asJSON {
			return cmdio.ErrOr(err, cmdio.PrintJSON(env.Stdout, out))
		}
		return printSinkRedrive(env.Stdout, name, action, out)
	}
	return usageErr("unknown sinks action %q (want pause, resume, dead-letters, redrive or drop)", action)
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
	if len(list.Sinks) == 0 {
		fmt.Fprintln(env.Stdout, "no sinks (add one under sinks in stadion.yaml)")
		return nil
	}
	return printSinks(env.Stdout, list.Sinks)
}

// printSinks shows sinks as a table: ROWS is what the table holds,
// WRITTEN what the server asked has written since it started.
func printSinks(w io.Writer, sinks []client.SinkRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SINK\tTOPIC\tTABLE\tSTATE\tROWS\tROWS/S\tLAG\tWRITTEN\tDEAD\tLAST ERROR")
	for _, s := range sinks {
		lastErr := orDash(s.LastError)
		if s.LastErrorAt != nil {
			lastErr = shortTime(*s.LastErrorAt) + " " + cmdio.Truncate(s.LastError, 60)
		}
		rows := "?"
		if s.Rows != nil {
			rows = strconv.FormatUint(*s.Rows, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s.%s\t%s\t%s\t%.0f\t%d\t%d\t%d\t%s\n", s.Name, s.Topic, s.Database, s.Table,
			s.State, rows, s.RowsPerSec, s.Lag, s.RowsWritten, s.DeadLetters, lastErr)
	}
	return tw.Flush()
}

func printSinkDeadLetters(w io.Writer, name string, raw json.RawMessage) error {
	var out struct {
		DeadLetters []client.SinkDeadLetter `json:"dead_letters"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return err
	}
	if len(out.DeadLetters) == 0 {
		fmt.Fprintf(w, "%s: no dead letters\n", name)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEQ\tATTEMPTS\tLAST FAILED\tERROR")
	for _, d := range out.DeadLetters {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\n", d.ID, d.Seq, d.Attempts, shortTime(d.LastFailed), cmdio.Truncate(d.Error, 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d dead letters; 'stadion sinks redrive %s [ID...]' writes them again, 'drop' deletes them (--json shows the events)\n", len(out.DeadLetters), name)
	return nil
}

func printSinkRedrive(w io.Writer, name, action string, raw json.RawMessage) error {
	if action == "drop" {
		var out struct {
			Deleted int `json:"deleted"`
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: %d dead letters deleted\n", name, out.Deleted)
		return nil
	}
	var out client.SinkRedrive
	if err := json.Unmarshal(raw, &out); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %d dead letters written to the table\n", name, out.Redriven)
	for _, f := range out.Failed {
		fmt.Fprintf(w, "  %d still rejected: %s\n", f.ID, f.Error)
	}
	if len(out.Failed) > 0 {
		return exitError{code: 1}
	}
	return nil
}
