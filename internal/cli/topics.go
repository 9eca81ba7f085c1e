package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

var topicsCmd = &command{
	name:  "topics",
	short: "list topics with their counts, or show one topic",
	usage: "[TOPIC]",
	example: `stadion topics
stadion topics personnel --json`,
	nargs: atMostOne, argsErr: "topics takes at most one TOPIC",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		if len(args) == 1 {
			var info json.RawMessage
			if err := r.Do(ctx, "GET", "/v1/topics/"+url.PathEscape(args[0]), "", nil, nil, &info); err != nil || asJSON {
				return cmdio.ErrOr(err, cmdio.PrintJSON(env.Stdout, info))
			}
			return printTopic(env.Stdout, info)
		}
		var list struct {
			Topics []client.TopicRow `json:"topics"`
		}
		if err := r.Do(ctx, "GET", "/v1/topics", "", nil, nil, &list); err != nil {
			return err
		}
		if asJSON {
			return cmdio.PrintJSON(env.Stdout, list)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TOPIC\tKIND\tKEY\tEVENTS\tBYTES\tLAST SEQ\tLAST EVENT\tPUBLISHERS\tSUBSCRIBERS")
		for _, t := range list.Topics {
			last := time.Time{}
			if t.LastTime != nil {
				last = *t.LastTime
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", t.Name, t.Kind, orDash(t.Key), t.Events, t.Bytes,
				t.LastSeq, shortTime(last), strings.Join(t.Publishers, ","), strings.Join(t.Subscribers, ","))
		}
		return tw.Flush()
	},
}

func printTopic(w io.Writer, raw json.RawMessage) error {
	var t client.TopicInfo
	if err := json.Unmarshal(raw, &t); err != nil {
		return err
	}
	last := "-"
	if t.LastTime != nil {
		last = shortTime(*t.LastTime)
	}
	fmt.Fprintf(w, "topic        %s (%s)\n", t.Name, t.Kind)
	if t.Description != "" {
		fmt.Fprintf(w, "             %s\n", t.Description)
	}
	fmt.Fprintf(w, "key          %s\n", orDash(t.Key))
	fmt.Fprintf(w, "events       %d (%d bytes), seq %d..%d, last %s\n", t.Events, t.Bytes, t.FirstSeq, t.LastSeq, last)
	if t.Kind == "sync" {
		fmt.Fprintf(w, "keys         %d\n", t.Keys)
	}
	fmt.Fprintf(w, "retention    %s\n", orDash(t.Retention))
	fmt.Fprintf(w, "publishers   %s\n", orDash(strings.Join(t.Publishers, ", ")))
	fmt.Fprintf(w, "subscribers  %s\n", orDash(strings.Join(t.Subscribers, ", ")))
	if len(t.Schema) == 0 {
		fmt.Fprintln(w, "schema       none (any JSON)")
		return nil
	}
	fmt.Fprintf(w, "schema       %s\n", orDash(t.SchemaID))
	var b bytes.Buffer
	if err := json.Indent(&b, t.Schema, "  ", "  "); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "  %s\n", b.String())
	return err
}
