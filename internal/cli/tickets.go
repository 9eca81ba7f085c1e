package cli

import (
	"context"
	"flag"
	"fmt"
	"net/url"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/gate"
)

var ticketsCmd = &command{
	name:  "tickets",
	short: "issue, revoke and show signed venue tickets (ticketing role)",
	example: `stadion tickets issue --venue bird-nest --session CUR-M-FNL \
  --from 2026-02-20T18:00:00Z --until 2026-02-20T23:00:00Z --zone N --seat 12-7 --holder H-1
stadion tickets issue --venue bird-nest --session CUR-M-FNL --from ... --until ... --count 10000 > codes.jsonl
stadion tickets revoke 6f1c0b6e2d8a4f5e9a7b3c21
stadion tickets show 6f1c0b6e2d8a4f5e9a7b3c21`,
	sub: []*command{ticketsIssueCmd, ticketsRevokeCmd, ticketsShowCmd},
}

var ticketsIssueCmd = &command{
	name:  "issue",
	short: "issue tickets; prints one {\"id\",\"code\"} JSON line per ticket",
	long: `Issues one ticket from the flags, --count tickets of one session (seats
numbered SEAT-1, SEAT-2, ... when --seat is given), or one ticket per JSON line
of --file (fields venue, session, valid_from, valid_until, zone, seat,
holder; "-" reads stdin). Large batches go in requests of 500 with a progress
bar on stderr.`,
	example: `stadion tickets issue --venue ice-cube --session FSK-W-FS --from 2026-02-17T11:00:00Z --until 2026-02-17T16:00:00Z --count 2000 > codes.jsonl`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		var t gate.TicketRequest
		var from, until, file string
		fs.StringVar(&t.Venue, "venue", "", "venue")
		fs.StringVar(&t.Session, "session", "", "session (event code)")
		fs.StringVar(&from, "from", "", "valid from (RFC 3339)")
		fs.StringVar(&until, "until", "", "valid until (RFC 3339)")
		fs.StringVar(&t.Zone, "zone", "", "entrance or zone")
		fs.StringVar(&t.Seat, "seat", "", "seat (prefix with --count)")
		fs.StringVar(&t.Holder, "holder", "", "holder reference")
		count := fs.Int("count", 1, "how many tickets of this session to issue")
		fs.StringVar(&file, "file", "", "JSON lines of tickets to issue (- for stdin)")
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) > 0 {
				return usageErr("tickets issue takes flags only")
			}
			reqs, err := client.TicketRequests(env.Stdin, t, from, until, file, *count)
			if err != nil {
				return err
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			return r.IssueTickets(ctx, env.Stdout, env.Stderr, reqs)
		}
	},
}

var ticketsRevokeCmd = &command{
	name:    "revoke",
	short:   "revoke a ticket; every edge of its venue rejects it once the revocation arrives",
	usage:   "ID",
	example: `stadion tickets revoke 6f1c0b6e2d8a4f5e9a7b3c21`,
	nargs:   1, argsErr: "want exactly one ticket ID",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		return ticketCall(ctx, env, r, asJSON, args[0], "POST", "/revoke")
	},
}

var ticketsShowCmd = &command{
	name:    "show",
	short:   "show a ticket as the cloud keeps it",
	usage:   "ID",
	example: `stadion tickets show 6f1c0b6e2d8a4f5e9a7b3c21`,
	nargs:   1, argsErr: "want exactly one ticket ID",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		return ticketCall(ctx, env, r, asJSON, args[0], "GET", "")
	},
}

func ticketCall(ctx context.Context, env Env, r *client.Client, asJSON bool, id, method, suffix string) error {
	var rec gate.TicketRecord
	if err := r.Do(ctx, method, "/v1/tickets/"+url.PathEscape(id)+suffix, "", nil, nil, &rec); err != nil {
		return err
	}
	if asJSON {
		return cmdio.PrintJSON(env.Stdout, rec)
	}
	fmt.Fprintf(env.Stdout, "ticket   %s\nvenue    %s\nsession  %s\nvalid    %s .. %s\nzone     %s\nseat     %s\nholder   %s\nkey      %d\nissued   %s\n",
		rec.ID, rec.Venue, rec.Session, shortTime(rec.ValidFrom), shortTime(rec.ValidUntil), rec.Zone, rec.Seat, rec.Holder, rec.KeyID, shortTime(rec.Issued))
	if rec.Revoked != nil {
		fmt.Fprintf(env.Stdout, "REVOKED  %s\n", shortTime(*rec.Revoked))
	}
	return nil
}
