package exchange

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const webhookConfig = testConfig + `
webhooks:
  allow: ["127.0.0.1"]
`

// testSecret is whsec_ + base64 of 32 bytes.
var testSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// verifyWebhook checks a request as a Standard Webhooks receiver would,
// written from the specification rather than from stadion's signer.
func verifyWebhook(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || id == "" {
		return fmt.Errorf("missing webhook-id or webhook-timestamp")
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %s too far off", ts)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		v, b64, _ := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if v == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no valid signature in %q", h.Get("webhook-signature"))
}

// hookCall is one request a test receiver got.
type hookCall struct {
	header http.Header
	body   []byte
	err    error // signature check
}

// receiver is a webhook endpoint answering with answer(call number).
type receiver struct {
	mu    sync.Mutex
	calls []hookCall
	srv   *httptest.Server
}

func newReceiver(t *testing.T, answer func(n int, c hookCall) (status int, delay time.Duration)) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c := hookCall{header: r.Header.Clone(), body: body, err: verifyWebhook(testSecret, r.Header, body)}
		rc.mu.Lock()
		rc.calls = append(rc.calls, c)
		n := len(rc.calls)
		rc.mu.Unlock()
		status, delay := answer(n, c)
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) got() []hookCall {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hookCall(nil), rc.calls...)
}

func pushBody(url, extra string) string {
	return fmt.Sprintf(`{"topic":"laps","start":"latest","push":{"url":%q,"secret":%q%s},"retry":{"schedule":["1s"],"max_attempts":3}}`, url, testSecret, extra)
}

func TestWebhookDelivery(t *testing.T) {
	h := newHarnessWith(t, webhookConfig)
	pub, sub := h.key("pub"), h.key("sub")
	rc := newReceiver(t, func(int, hookCall) (int, time.Duration) { return http.StatusNoContent, 0 })
	s := h.mustPutSub(sub, "hook", pushBody(rc.srv.URL+"/in", ""))
	if s.Push == nil || s.Push.Secret != "set" || s.Push.MaxInFlight != 16 || s.Push.Timeout != "10s" {
		t.Fatalf("push %+v", s.Push)
	}
	if st := h.subStatus(sub, "hook"); st.Push.Secret != "set" {
		t.Errorf("GET shows the secret: %+v", st.Push)
	}
	if r := h.do("POST", "/v1/subscriptions/hook/pull", sub, []byte(`{}`), "Content-Type", "application/json"); r.status != http.StatusConflict {
		t.Errorf("pull of a push subscription: %d", r.status)
	}
	ev := h.mustPublish(pub, "laps", `{"athlete":"WEB-1","n":1,"ms":2}`)
	eventually(t, 10*time.Second, "delivery", func() bool { return len(rc.got()) == 1 })
	c := rc.got()[0]
	if c.err != nil {
		t.Fatalf("signature: %v", c.err)
	}
	want := map[string]string{
		"Content-Type": "application/json", "Ce-Specversion": "1.0", "Ce-Id": ev.ID, "Ce-Source": "/clients/pub",
		"Ce-Subject": "WEB-1", "Ce-Seq": strconv.FormatUint(ev.Seq, 10), "Ce-Dataschema": lapSchemaID, "Webhook-Id": ev.ID,
	}
	for k, v := range want {
		if got := c.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	var data map[string]any
	if err := json.Unmarshal(c.body, &data); err != nil || data["athlete"] != "WEB-1" {
		t.Errorf("body %s", c.body)
	}
	eventually(t, 10*time.Second, "ack", func() bool { return h.subStatus(sub, "hook").AckFloor >= ev.Seq })
	if strings.Contains(h.logs.String(), testSecret) {
		t.Error("the secret is in the log")
	}
}

func TestWebhookRetries(t *testing.T) {
	h := newHarnessWith(t, webhookConfig)
	pub, sub := h.key("pub"), h.key("sub")

	t.Run("recovers", func(t *testing.T) {
		h := h.as(t)
		rc := newReceiver(t, func(n int, _ hookCall) (int, time.Duration) {
			if n <= 2 {
				return http.StatusServiceUnavailable, 0
			}
			return http.StatusOK, 0
		})
		h.mustPutSub(sub, "flaky", pushBody(rc.srv.URL, ""))
		ev := h.mustPublish(pub, "laps", `{"athlete":"FLA-1","n":1,"ms":2}`)
		eventually(t, 15*time.Second, "acked after retries", func() bool { return h.subStatus(sub, "flaky").AckFloor >= ev.Seq })
		calls := rc.got()
		if len(calls) != 3 {
			t.Fatalf("%d calls, want 3", len(calls))
		}
		if len(h.deadLettersOf(sub, "flaky")) != 0 {
			t.Error("dead-lettered")
		}
	})
	t.Run("times out", func(t *testing.T) {
		h := h.as(t)
		rc := newReceiver(t, func(n int, _ hookCall) (int, time.Duration) {
			if n == 1 {
				return http.StatusOK, 3 * time.Second
			}
			return http.StatusOK, 0
		})
		h.mustPutSub(sub, "slow", pushBody(rc.srv.URL, `,"timeout":"1s"`))
		ev := h.mustPublish(pub, "laps", `{"athlete":"SLO-1","n":1,"ms":2}`)
		eventually(t, 15*time.Second, "acked after a timeout", func() bool { return h.subStatus(sub, "slow").AckFloor >= ev.Seq })
		if n := len(rc.got()); n != 2 {
			t.Errorf("%d calls, want 2", n)
		}
	})
	t.Run("dead letter", func(t *testing.T) {
		h := h.as(t)
		rc := newReceiver(t, func(int, hookCall) (int, time.Duration) { return http.StatusInternalServerError, 0 })
		h.mustPutSub(sub, "broken", pushBody(rc.srv.URL, ""))
		ev := h.mustPublish(pub, "laps", `{"athlete":"BRO-1","n":1,"ms":2}`)
		var dls []DeadLetter
		eventually(t, 20*time.Second, "dead letter", func() bool { dls = h.deadLettersOf(sub, "broken"); return len(dls) == 1 })
		if dls[0].Seq != ev.Seq || dls[0].Attempts != 3 || !strings.Contains(dls[0].Error, "500") {
			t.Errorf("dead letter %+v", dls[0])
		}
		time.Sleep(1500 * time.Millisecond)
		if n := len(rc.got()); n != 3 {
			t.Errorf("%d calls, want 3", n)
		}
	})
}

func TestWebhookOrderedByKey(t *testing.T) {
	h := newHarnessWith(t, webhookConfig)
	pub, sub := h.key("pub"), h.key("sub")
	var failedOnce atomic.Bool
	rc := newReceiver(t, func(_ int, c hookCall) (int, time.Duration) {
		if c.header.Get("ce-subject") == "AAA-1" && failedOnce.CompareAndSwap(false, true) {
			return http.StatusBadGateway, 0
		}
		return http.StatusOK, 20 * time.Millisecond
	})
	h.mustPutSub(sub, "ordered", pushBody(rc.srv.URL, `,"ordered_by_key":true,"max_in_flight":4`))
	for n := 1; n <= 5; n++ {
		h.mustPublish(pub, "laps", fmt.Sprintf(`{"athlete":"AAA-1","n":%d,"ms":1}`, n))
		h.mustPublish(pub, "laps", fmt.Sprintf(`{"athlete":"BBB-1","n":%d,"ms":1}`, n))
	}
	eventually(t, 20*time.Second, "all delivered", func() bool { return len(rc.got()) == 11 })
	seen := map[string][]int{}
	for _, c := range rc.got() {
		var d struct {
			Athlete string
			N       int
		}
		_ = json.Unmarshal(c.body, &d)
		seen[d.Athlete] = append(seen[d.Athlete], d.N)
	}
	if got := fmt.Sprint(seen["AAA-1"]); got != "[1 1 2 3 4 5]" {
		t.Errorf("AAA-1 calls %s", got)
	}
	if got := fmt.Sprint(seen["BBB-1"]); got != "[1 2 3 4 5]" {
		t.Errorf("BBB-1 calls %s", got)
	}
}

func TestWebhookAllowList(t *testing.T) {
	h := newHarnessWith(t, webhookConfig)
	sub := h.key("sub")
	for _, tc := range []struct {
		name, url string
		status    int
	}{
		{"other host", "http://10.0.0.1/hook", http.StatusForbidden},
		{"name of an allowed ip", "http://localhost:8080/hook", http.StatusForbidden},
		{"scheme", "ftp://127.0.0.1/hook", http.StatusBadRequest},
		{"credentials", "http://u:p@127.0.0.1/hook", http.StatusBadRequest},
		{"allowed", "http://127.0.0.1:9/hook", http.StatusCreated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := h.as(t).putSub(sub, "a-"+strconv.Itoa(tc.status), pushBody(tc.url, "")); r.status != tc.status {
				t.Errorf("%s: %d %s", tc.url, r.status, r.body)
			}
		})
	}
	if r := h.putSub(sub, "nosecret", `{"topic":"laps","push":{"url":"http://127.0.0.1/x"}}`); r.status != http.StatusBadRequest {
		t.Errorf("without a secret: %d", r.status)
	}
	none := newHarness(t) // no webhooks section: none allowed
	if r := none.putSub(none.key("sub"), "x", pushBody("http://127.0.0.1/x", "")); r.status != http.StatusForbidden {
		t.Errorf("no allow-list: %d %s", r.status, r.body)
	}
}
