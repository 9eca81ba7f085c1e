package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/stadion-dev/stadion/internal/client"
)

var auditCmd = &command{
	name:  "audit",
	short: "read the audit trail: who changed what, when (viewer and up)",
	long: `Every change made through the API or the CLI is one entry of the AUDIT
stream: who (key id, label, role), the second person when it was approved
under a freeze, the route and path, the answer's status, and the resource
before and after (or the request body, secrets redacted).`,
	example: `stadion audit --since 1h
stadion audit --follow
stadion audit --since 2026-02-04T19:00:00+08:00 --json | jq 'select(.area=="sinks")'`,
	nargs: noArgs, argsErr: "audit takes no arguments",
	remoteWith: func(fs *flag.FlagSet) remoteRun {
		since := fs.String("since", "24h", "entries since: a duration ago (1h) or an RFC 3339 time")
		follow := fs.Bool("follow", false, "keep printing new entries as they are made")
		limit := fs.Int("limit", 1000, "at most this many entries (without --follow)")
		return func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
			print := func(e client.AuditEntry) error { return printAudit(env.Stdout, e, asJSON) }
			if *follow {
				return r.FollowAudit(ctx, *since, print)
			}
			var after uint64
			for n := 0; n < *limit; {
				page, err := r.Audit(ctx, after, *since, min(*limit-n, 1000), 0)
				if err != nil {
					return err
				}
				for _, e := range page.Entries {
					if err := print(e); err != nil {
						return err
					}
				}
				if len(page.Entries) == 0 {
					return nil
				}
				n += len(page.Entries)
				after = page.LastSeq
			}
			return nil
		}
	},
}

// printAudit prints one entry: a JSON line, or a line for people.
func printAudit(w io.Writer, e client.AuditEntry, asJSON bool) error {
	if asJSON {
		raw, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(raw))
		return err
	}
	who := e.Who.Name()
	if e.ApprovedBy != nil {
		who += ", approved by " + e.ApprovedBy.Name()
	}
	_, err := fmt.Fprintf(w, "%s  %-8s %3d  %s %s  by %s\n", shortTime(e.Time), e.Outcome, e.Status, e.Method, e.Path, who)
	return err
}
