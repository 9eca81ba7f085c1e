package exchange

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawServer answers every connection with answer, whatever was asked.
func rawServer(t *testing.T, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				for { // the request's head
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				_, _ = c.Write([]byte(answer))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestWebhookErrorsAreQuiet: what a failing webhook answered (its body,
// its reason phrase, a non-HTTP banner) never reaches the errors shown to
// the subscription's owner; the status code does.
func TestWebhookErrorsAreQuiet(t *testing.T) {
	h := newHarnessWith(t, webhookConfig)
	pub, sub := h.key("pub"), h.key("sub")
	cases := []struct {
		name, answer, want string
	}{
		{"status", "HTTP/1.1 500 LEAKED-REASON\r\nContent-Length: 11\r\nConnection: close\r\n\r\nLEAKED-BODY", "webhook answered 500"},
		{"banner", "SSH-2.0-LEAKED-BANNER\r\n", "before a valid HTTP answer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := h.as(t)
			url := rawServer(t, c.answer)
			h.mustPutSub(sub, "quiet-"+c.name, pushBody(url, ""))
			h.mustPublish(pub, "laps", `{"athlete":"QUI-1","n":1,"ms":2}`)
			var dls []DeadLetter
			eventually(t, 20*time.Second, "dead letter", func() bool { dls = h.deadLettersOf(sub, "quiet-"+c.name); return len(dls) == 1 })
			if !strings.Contains(dls[0].Error, c.want) || strings.Contains(dls[0].Error, "LEAKED") {
				t.Errorf("dead letter error %q: want %q and nothing the remote said", dls[0].Error, c.want)
			}
			r := h.do("GET", "/v1/subscriptions/quiet-"+c.name+"/dead-letters", sub, nil)
			if r.status != http.StatusOK || strings.Contains(string(r.body), "LEAKED") {
				t.Errorf("dead letters answer quotes the remote: %s", r.body)
			}
		})
	}
}
