package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/loop"
)

// Agent is the User-Agent of the demo's publishers, so a limit (the
// opening-ceremony-storm plan) can stop them.
var Agent = "stadion-demo/" + cmdio.Version

// feedPublisher says which client publishes each demo topic.
var feedPublisher = map[string]string{
	"schedule": "odf", "results": "odf", "medals": "odf", "weather": "odf", "personnel": "oms",
}

// Feeder publishes events through the API as the clients that own them,
// with temporary keys created with the admin key (API's token).
type Feeder struct {
	API  *client.Client
	Seed int64             // makes the Idempotency-Keys
	Out  io.Writer         // progress
	keys map[string]keyRef // client -> temporary key
}

type keyRef struct{ key, id string }

// Feed publishes a day's events one by one, spread over spread (0: as fast
// as the server takes them), and says how long that took.
func (f *Feeder) Feed(ctx context.Context, events []Event, spread time.Duration) (time.Duration, error) {
	if err := f.createKeys(ctx, "demo feed", "odf", "oms"); err != nil {
		return 0, err
	}
	defer f.revokeKeys()
	var span time.Duration
	if n := len(events); n > 0 {
		span = events[n-1].At
	}
	start := time.Now()
	bar := cmdio.NewProgress(f.Out, "demo feed", len(events))
	for i, ev := range events {
		if spread > 0 && span > 0 {
			due := start.Add(time.Duration(float64(ev.At) / float64(span) * float64(spread)))
			if !loop.SleepUntil(ctx, due) {
				return 0, ctx.Err()
			}
		}
		if err := f.publish(ctx, i, ev); err != nil {
			return 0, fmt.Errorf("event %d (%s): %w", i, ev.Topic, err)
		}
		bar.Set(i + 1)
	}
	bar.Done()
	return time.Since(start), nil
}

func (f *Feeder) publish(ctx context.Context, i int, ev Event) error {
	publisher, ok := feedPublisher[ev.Topic]
	if !ok {
		return fmt.Errorf("no publisher for topic %q", ev.Topic)
	}
	body, err := json.Marshal(ev.Data)
	if err != nil {
		return err
	}
	hdr := http.Header{"Idempotency-Key": {fmt.Sprintf("demo-%d-%d", f.Seed, i)}}
	return f.as(publisher).Do(ctx, "POST", "/v1/topics/"+url.PathEscape(ev.Topic)+"/events", "application/json", body, hdr, nil)
}

// as is the API client publishing with the temporary key of a client.
func (f *Feeder) as(publisher string) *client.Client {
	return &client.Client{Base: f.API.Base, Token: f.keys[publisher].key, HTTP: f.API.HTTP, Agent: Agent}
}

// createKeys makes a temporary key for each client with the admin key;
// revokeKeys revokes them.
func (f *Feeder) createKeys(ctx context.Context, cmd string, clients ...string) error {
	f.keys = map[string]keyRef{}
	for _, client := range clients {
		var out struct{ Key, ID string }
		if err := f.API.Do(ctx, "POST", "/v1/clients/"+client+"/keys", "", nil, nil, &out); err != nil {
			return fmt.Errorf("creating a key for %s (%s needs the admin key and the Games example's clients): %w", client, cmd, err)
		}
		f.keys[client] = keyRef{key: out.Key, id: out.ID}
	}
	return nil
}

func (f *Feeder) revokeKeys() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for client, k := range f.keys {
		_ = f.API.Do(ctx, "DELETE", "/v1/clients/"+client+"/keys/"+k.id, "", nil, nil, nil)
	}
}
