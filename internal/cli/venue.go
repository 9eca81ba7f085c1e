package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/gate"
)

var venueCmd = &command{
	name:  "venue",
	short: "venues from the cloud: list, credentials, revoke, edge status and logs over the edge's link",
	example: `stadion venue list
stadion venue credentials bird-nest > bird-nest.creds
stadion venue revoke bird-nest
stadion venue status bird-nest
stadion venue logs bird-nest --since 10m --follow`,
	sub: []*command{venueListCmd, venueCredsCmd, venueRevokeCmd, venueStatusCmd, venueLogsCmd},
}

var venueListCmd = &command{
	name:    "list",
	short:   "the cloud's view of every venue: link, config version, counts, backlog",
	example: `stadion venue list --json`,
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		var out struct {
			Venues []gate.VenueStatus `json:"venues"`
		}
		if err := r.Do(ctx, "GET", "/v1/venues", "", nil, nil, &out); err != nil {
			return err
		}
		if asJSON {
			return cmdio.PrintJSON(env.Stdout, out)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VENUE\tLINK\tLAST CONTACT\tCONFIG (APPLIED)\tADMITTED\tREJECTED\tBACKLOG")
		for _, v := range out.Venues {
			last := "-"
			if v.LastContact != nil {
				last = shortTime(*v.LastContact)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\tv%d (v%d)\t%d\t%d\t%d\n", v.Venue, v.Link, last,
				v.ConfigVersion, v.ConfigVersionApplied, v.Admitted, v.Rejected, v.Backlog)
		}
		return tw.Flush()
	},
}

var venueCredsCmd = &command{
	name:    "credentials",
	short:   "issue VENUE's edge credentials file (admin; replaces the previous one and closes links made with it)",
	usage:   "VENUE",
	example: `stadion venue credentials bird-nest > bird-nest.creds && chmod 600 bird-nest.creds`,
	nargs:   1, argsErr: "want exactly one VENUE",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		var cr gate.Credentials
		if err := r.Do(ctx, "POST", "/v1/venues/"+url.PathEscape(args[0])+"/credentials", "", nil, nil, &cr); err != nil {
			return err
		}
		fmt.Fprintln(env.Stderr, "store this file with mode 0600; it is shown once and replaces the venue's previous credentials")
		return cmdio.PrintJSON(env.Stdout, cr)
	},
}

var venueRevokeCmd = &command{
	name:    "revoke",
	short:   "revoke VENUE's edge credentials (admin): its links close within a second on every replica",
	usage:   "VENUE",
	example: `stadion venue revoke bird-nest`,
	nargs:   1, argsErr: "want exactly one VENUE",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		if err := r.Do(ctx, "DELETE", "/v1/venues/"+url.PathEscape(args[0])+"/credentials", "", nil, nil, nil); err != nil {
			return err
		}
		return printDone(env, asJSON, map[string]any{"venue": args[0], "revoked": true},
			"credentials of %s revoked; issue new ones with: stadion venue credentials %s", args[0], args[0])
	},
}

var venueStatusCmd = &command{
	name:  "status",
	short: "the cloud's view of VENUE and the edge's own status, fetched over its outbound link",
	usage: "VENUE",
	example: `stadion venue status bird-nest
stadion venue status bird-nest --json`,
	nargs: 1, argsErr: "want exactly one VENUE",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		var view gate.VenueStatus
		if err := r.Do(ctx, "GET", "/v1/venues/"+url.PathEscape(args[0]), "", nil, nil, &view); err != nil {
			return err
		}
		var edge json.RawMessage
		edgeErr := r.Do(ctx, "GET", "/v1/venues/"+url.PathEscape(args[0])+"/status", "", nil, nil, &edge)
		if asJSON {
			out := map[string]any{"cloud": view, "edge": edge}
			if edgeErr != nil {
				out["edge_error"] = edgeErr.Error()
			}
			return cmdio.PrintJSON(env.Stdout, out)
		}
		printVenueCloud(env.Stdout, view)
		if edgeErr != nil {
			return fmt.Errorf("edge (over its outbound link): %w", edgeErr)
		}
		var es gate.EdgeStatus
		if err := json.Unmarshal(edge, &es); err != nil {
			return fmt.Errorf("edge: %w", err)
		}
		printVenueEdge(env.Stdout, es)
		return nil
	},
}

func printVenueCloud(w io.Writer, v gate.VenueStatus) {
	at := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return shortTime(*t)
	}
	fmt.Fprintf(w, "venue %s, as the cloud sees it\n", v.Venue)
	fmt.Fprintf(w, "  link          %s (last contact %s)\n", v.Link, at(v.LastContact))
	fmt.Fprintf(w, "  config        v%d (the edge applied v%d)\n", v.ConfigVersion, v.ConfigVersionApplied)
	fmt.Fprintf(w, "  scans         %d received, %d counted, %d waiting at the edge; last %s\n", v.Received, v.Scans, v.Backlog, at(v.LastScan))
	fmt.Fprintf(w, "  admissions    %d admitted, %d rejected\n", v.Admitted, v.Rejected)
}

func printVenueEdge(w io.Writer, e gate.EdgeStatus) {
	fmt.Fprintf(w, "the edge itself (domain %s), up since %s\n", e.Domain, shortTime(e.Started))
	link := e.Link
	if e.LinkedTo != "" {
		link += " to " + e.LinkedTo
	}
	fmt.Fprintf(w, "  link          %s\n", link)
	fmt.Fprintf(w, "  config        v%d, %d signing keys, %d tickets revoked\n", e.Control.ConfigVersion, len(e.Control.Keys), e.Control.Revoked)
	fmt.Fprintf(w, "  scans         %d (%d admitted, %d rejected); %d groups not yet taken by the cloud\n", e.Scans, e.Admitted, e.Rejected, e.Backlog)
}

var venueLogsCmd = &command{
	name:  "logs",
	short: "VENUE's edge log lines, fetched over its outbound link",
	usage: "VENUE",
	example: `stadion venue logs bird-nest --since 30m
stadion venue logs bird-nest --follow`,
	nargs: 1, argsErr: "want exactly one VENUE",
	remoteWith: func(fs *flag.FlagSet) remoteRun {
		since := fs.Duration("since", 10*time.Minute, "how far back")
		follow := fs.Bool("follow", false, "keep printing new lines")
		return func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
			return followLogs(ctx, env, r, args[0], *since, *follow, asJSON)
		}
	},
}

func followLogs(ctx context.Context, env Env, r *client.Client, venue string, since time.Duration, follow, asJSON bool) error {
	return r.VenueLogs(ctx, venue, since, follow, func(l gate.LogLine) {
		if asJSON {
			_ = json.NewEncoder(env.Stdout).Encode(l)
		} else {
			fmt.Fprintf(env.Stdout, "%s %-5s %s %s\n", l.Time.Local().Format("15:04:05.000"), l.Level, l.Msg, l.Attrs)
		}
	}, func(err error) { fmt.Fprintf(env.Stderr, "(%v; retrying)\n", err) })
}
