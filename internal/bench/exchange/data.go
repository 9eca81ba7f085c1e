package exchange

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/nats-io/nuid"

	"github.com/stadion-dev/stadion/examples/games"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/demo"
	"github.com/stadion-dev/stadion/internal/exchange"
)

// exchangeTopic is the topic of the example the exchange benchmark feeds.
const exchangeTopic = "results"

// The benchmark's events are result documents of the demo Games whose
// stored CloudEvent is about 1 KiB: larger documents lose competitors from
// the end of their start list until they fit, smaller ones are left out.
const (
	fixtureMinBytes = 900
	fixtureMaxBytes = 1150
	fixtureBatches  = 16 // distinct batch bodies, sent in turn
)

// exchangeFixture holds the events of the exchange benchmark in every form
// it sends them, encoded once before any clock runs.
type exchangeFixture struct {
	data     [][]byte   // one event's data, as an HTTP client posts it
	batches  [][]byte   // JSON arrays of batch events' data
	raw      []rawEvent // the envelopes stadion stores, for raw JetStream
	batch    int
	dataSize int // average size of data and envelope, bytes
	envSize  int
}

// rawEvent is an envelope and the subject stadion stores it under.
type rawEvent struct {
	subject  string
	envelope []byte
}

// fixtureDays are the demo days the events come from.
var fixtureDays = []time.Time{
	time.Date(2022, time.February, 6, 0, 0, 0, 0, time.UTC),
	time.Date(2022, time.February, 10, 0, 0, 0, 0, time.UTC),
	time.Date(2022, time.February, 16, 0, 0, 0, 0, time.UTC),
}

// newExchangeFixture builds the events from the demo Games and checks each
// against the example's results schema, so a run measures accepted events.
func newExchangeFixture(batch int) (*exchangeFixture, error) {
	cfg, err := config.Load(games.FS, "stadion.yaml")
	if err != nil {
		return nil, err
	}
	t := cfg.Topics[exchangeTopic]
	raw, err := cfg.ReadFile(t.Schema)
	if err != nil {
		return nil, err
	}
	schema, err := exchange.CompileSchema(exchangeTopic, raw)
	if err != nil {
		return nil, err
	}
	fx := &exchangeFixture{batch: batch}
	for _, day := range fixtureDays {
		for _, ev := range demo.Day(1, day) {
			if ev.Topic != exchangeTopic {
				continue
			}
			if err := fx.add(ev.Data, t, schema); err != nil {
				return nil, err
			}
		}
	}
	if len(fx.data) < 10 {
		return nil, fmt.Errorf("bench: only %d demo %s events of about 1 KiB", len(fx.data), exchangeTopic)
	}
	fx.makeBatches()
	return fx, nil
}

// add trims data to size and keeps it.
func (fx *exchangeFixture) add(data map[string]any, t *config.Topic, schema *exchange.Schema) error {
	comps, _ := data["competitors"].([]any)
	for n := len(comps); n >= 1; n-- {
		data["competitors"] = comps[:n]
		body, err := json.Marshal(data)
		if err != nil {
			return err
		}
		ev, ok := rawEventOf(data, body, t, schema.ID)
		if !ok || len(ev.envelope) < fixtureMinBytes {
			return nil
		}
		if len(ev.envelope) > fixtureMaxBytes {
			continue
		}
		if err := validateFixture(schema, body); err != nil {
			return err
		}
		fx.keep(body, ev)
		return nil
	}
	return nil
}

func (fx *exchangeFixture) keep(body []byte, ev rawEvent) {
	n := len(fx.data)
	fx.dataSize = (fx.dataSize*n + len(body)) / (n + 1)
	fx.envSize = (fx.envSize*n + len(ev.envelope)) / (n + 1)
	fx.data = append(fx.data, body)
	fx.raw = append(fx.raw, ev)
}

func validateFixture(schema *exchange.Schema, body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if fe := schema.Validate(v, ""); len(fe) > 0 {
		return fmt.Errorf("bench: a demo %s event does not validate: %s: %s", exchangeTopic, fe[0].Pointer, fe[0].Message)
	}
	return nil
}

// safeToken is a key stadion uses as a subject token as it is.
var safeToken = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// rawEventOf builds the envelope stadion would store for data, published
// by the results system (client odf).
func rawEventOf(data map[string]any, body []byte, t *config.Topic, schemaID string) (rawEvent, bool) {
	hdr, _ := data["header"].(map[string]any)
	code, _ := hdr["documentCode"].(string)
	if !safeToken.MatchString(code) {
		return rawEvent{}, false
	}
	env, err := json.Marshal(exchange.Event{
		SpecVersion: "1.0", ID: nuid.Next(), Source: "/clients/odf", Type: t.Type,
		Subject: code, Time: time.Now().UTC(), DataSchema: schemaID,
		DataContentType: "application/json", Data: body,
	})
	if err != nil {
		return rawEvent{}, false
	}
	return rawEvent{subject: "topic." + exchangeTopic + "." + code, envelope: env}, true
}

// makeBatches joins the events into batch bodies, each starting further on.
func (fx *exchangeFixture) makeBatches() {
	for b := range fixtureBatches {
		var buf bytes.Buffer
		buf.WriteByte('[')
		for i := range fx.batch {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(fx.data[(b*fx.batch+i)%len(fx.data)])
		}
		buf.WriteByte(']')
		fx.batches = append(fx.batches, buf.Bytes())
	}
}

// durabilityLine is the setting writeBenchConfig rewrites.
var durabilityLine = regexp.MustCompile(`(?m)^durability:.*$`)

// writeBenchConfig copies the bundled example (stadion.yaml and its
// schemas) into dir with the given durability and returns the file's path.
func writeBenchConfig(dir string, durability config.Durability) (string, error) {
	err := fs.WalkDir(games.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := fs.ReadFile(games.FS, p)
		if err != nil {
			return err
		}
		if p == "stadion.yaml" {
			if !durabilityLine.Match(raw) {
				return fmt.Errorf("bench: the example stadion.yaml has no durability line")
			}
			raw = durabilityLine.ReplaceAll(raw, []byte("durability: "+durability))
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		return os.WriteFile(dst, raw, 0o600)
	})
	return filepath.Join(dir, "stadion.yaml"), err
}
