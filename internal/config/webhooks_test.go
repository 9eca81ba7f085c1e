package config

import "testing"

func TestWebhooksAllows(t *testing.T) {
	w := Webhooks{Allow: []string{"hooks.example.org", "127.0.0.1:8443", "[::1]"}}
	for _, tc := range []struct {
		host, port string
		want       bool
	}{
		{"hooks.example.org", "", true},
		{"HOOKS.example.org", "8080", true},
		{"evil.example.org", "", false},
		{"127.0.0.1", "8443", true},
		{"127.0.0.1", "8444", false},
		{"127.0.0.1", "", false},
		{"::1", "9000", true},
	} {
		if got := w.Allows(tc.host, tc.port); got != tc.want {
			t.Errorf("Allows(%q, %q) = %v, want %v", tc.host, tc.port, got, tc.want)
		}
	}
	if (Webhooks{}).Allows("127.0.0.1", "") {
		t.Error("an empty list allows a host")
	}
}

func TestWebhooksValidate(t *testing.T) {
	c := &Config{Webhooks: Webhooks{Allow: []string{"ok.example", "http://x", ""}}}
	errs := c.validateWebhooks()
	if len(errs) != 2 {
		t.Fatalf("errors %v", errs)
	}
	if got := errs[0].Error(); got != `webhooks.allow[1]: must be a host or host:port, not "http://x"` {
		t.Errorf("error %q", got)
	}
}
