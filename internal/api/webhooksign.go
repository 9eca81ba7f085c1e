package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
)

// WebhookSignature is the Standard Webhooks signature of a request:
// "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)).
// Subscriptions' webhooks and alert receivers sign with it.
func WebhookSignature(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
