package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/stadion-dev/stadion/internal/client"
)

var publishCmd = &command{
	name:  "publish",
	short: "publish events to a topic",
	usage: "TOPIC [-f FILE|-]",
	long: `Reads JSON from --data-json, a file (-f FILE) or standard input (-f - or no -f)
and publishes it. A JSON object is one event's data; a JSON array is a batch
(all-or-nothing). With --cloudevent the input is a structured CloudEvent (or,
if an array, a CloudEvents batch). Prints what the server stored.`,
	example: `stadion publish weather -f examples/games/testdata/weather.json
stadion publish results -f result.json --idempotency-key CURM-FNL-v7
cat medals.json | stadion publish medals
stadion publish personnel -f registrations.json --token $OMS_KEY`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		file := fs.String("f", "-", "file to read, - for standard input")
		inline := fs.String("data-json", "", "the JSON to publish, inline instead of -f")
		idem := fs.String("idempotency-key", "", "Idempotency-Key: a retry with the same key stores nothing new")
		ce := fs.Bool("cloudevent", false, "the input is a structured CloudEvent (or a batch of them)")
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) != 1 {
				return usageErr("publish needs exactly one TOPIC")
			}
			body, err := readInput(env, *inline, *file)
			if err != nil {
				return err
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			ct := client.PublishContentType(body, *ce)
			hdr := http.Header{}
			if *idem != "" {
				hdr.Set("Idempotency-Key", *idem)
			}
			var out json.RawMessage
			if err := r.Do(ctx, "POST", "/v1/topics/"+args[0]+"/events", ct, body, hdr, &out); err != nil {
				return err
			}
			return printReceipts(env.Stdout, out, rf.json)
		}
	},
}

func readInput(env Env, inline, file string) ([]byte, error) {
	if inline != "" {
		return []byte(inline), nil
	}
	if file == "-" {
		return io.ReadAll(env.Stdin)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", file, err)
	}
	return b, nil
}

func printReceipts(w io.Writer, raw json.RawMessage, asJSON bool) error {
	if asJSON {
		_, err := fmt.Fprintln(w, string(raw))
		return err
	}
	var list []client.Receipt
	if err := json.Unmarshal(raw, &list); err != nil {
		var one client.Receipt
		if err := json.Unmarshal(raw, &one); err != nil {
			return err
		}
		list = []client.Receipt{one}
	}
	for _, r := range list {
		note := ""
		if r.Duplicate {
			note = "  (duplicate: already stored)"
		}
		fmt.Fprintf(w, "stored %s seq %d id %s%s\n", r.Topic, r.Seq, r.ID, note)
	}
	return nil
}
