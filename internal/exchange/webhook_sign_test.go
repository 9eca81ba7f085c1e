package exchange

import (
	"testing"
	"time"
)

// TestSignatureVector checks the signer against the example of the
// Standard Webhooks reference libraries.
func TestSignatureVector(t *testing.T) {
	key, err := pushKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
}

func TestWebhookRequest(t *testing.T) {
	stored := []byte(`{"specversion":"1.0","id":"e1","source":"/clients/pub","type":"t","subject":"k","time":"2026-01-02T03:04:05Z","datacontenttype":"application/json","data":{"a":1}}`)
	req, err := webhookRequest("http://127.0.0.1/x", []byte("0123456789abcdef01234567"), stored, 7, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyWebhook("whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3", req.Header, []byte(`{"a":1}`)); err == nil {
		t.Error("a signature from 2023 passed the receiver's timestamp check")
	}
	for k, v := range map[string]string{"ce-id": "e1", "ce-seq": "7", "ce-subject": "k", "webhook-id": "e1", "webhook-timestamp": "1700000000"} {
		if got := req.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if req.ContentLength != 7 {
		t.Errorf("content length %d", req.ContentLength)
	}
}

func FuzzParseRetry(f *testing.F) {
	f.Add("10s", "1m", 3)
	f.Add("", "x", 0)
	f.Add("1ns", "25h", -1)
	f.Fuzz(func(t *testing.T, a, b string, n int) {
		p, err := parseRetry(&RetryPolicy{Schedule: []string{a, b}, MaxAttempts: n})
		if err != nil {
			return
		}
		if p.MaxAttempts < 1 || len(p.backOff(time.Second)) == 0 || p.delay(uint64(p.MaxAttempts)) < time.Second {
			t.Fatalf("accepted an unusable policy %+v", p)
		}
	})
}
