package exchange

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/stadion-dev/stadion/internal/api"
)

// signature is the Standard Webhooks signature of a request (shared with
// alert receivers: api.WebhookSignature).
func signature(key []byte, id string, ts int64, body []byte) string {
	return api.WebhookSignature(key, id, ts, body)
}

// webhookRequest builds the POST of one stored event in CloudEvents binary
// mode (attributes as ce-* headers, the body is the event's data), signed
// with key. webhook-id is the event id, the same on every retry, so that
// receivers can drop repeats.
func webhookRequest(url string, key, stored []byte, seq uint64, now time.Time) (*http.Request, error) {
	var ev Event
	if err := json.Unmarshal(stored, &ev); err != nil {
		return nil, err
	}
	body := []byte(ev.Data)
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		return nil, err
	}
	req.Body, req.ContentLength = http.NoBody, int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	req.Body, _ = req.GetBody()
	ct := ev.DataContentType
	if ct == "" {
		ct = "application/json"
	}
	ts := now.Unix()
	h := req.Header
	h.Set("Content-Type", ct)
	h.Set("User-Agent", "stadion-webhooks")
	h.Set("ce-specversion", ev.SpecVersion)
	h.Set("ce-id", ev.ID)
	h.Set("ce-source", ev.Source)
	h.Set("ce-type", ev.Type)
	h.Set("ce-time", ev.Time.Format(time.RFC3339Nano))
	h.Set("ce-seq", strconv.FormatUint(seq, 10))
	if ev.Subject != "" {
		h.Set("ce-subject", ev.Subject)
	}
	if ev.DataSchema != "" {
		h.Set("ce-dataschema", ev.DataSchema)
	}
	h.Set("webhook-id", ev.ID)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", signature(key, ev.ID, ts, body))
	return req, nil
}
