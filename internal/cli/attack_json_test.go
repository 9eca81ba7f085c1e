package cli

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	_ "modernc.org/sqlite"
)

// The strict-JSON attacks (issue 10, row 11): a publisher with an ordinary
// key sends JSON that one parser reads one way and another parser another
// way, or a number that poisons what reads it later. Every test runs the
// real `stadion up` with testdata/json/stadion.yaml.

const jsonConfig = "testdata/json/stadion.yaml"

// jsonProblem is the part of a problem+json answer the attack tests check.
type jsonProblem struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Errors []struct {
		Pointer string `json:"pointer"`
		Message string `json:"message"`
	} `json:"errors"`
}

// jsonPost posts body with a content type and returns the status, the
// answer's content type and its body.
func jsonPost(t *testing.T, p *proc, path, key, ct, body string) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", p.http+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), buf.Bytes()
}

// jsonRefused asserts a 400 problem+json of type slug whose first error is
// at pointer with a message containing msg.
func jsonRefused(t *testing.T, code int, ct string, body []byte, slug, pointer, msg string) {
	t.Helper()
	var pr jsonProblem
	if code != http.StatusBadRequest || ct != "application/problem+json" || json.Unmarshal(body, &pr) != nil {
		t.Fatalf("got %d %s %s; want a 400 problem", code, ct, body)
	}
	if !strings.HasSuffix(pr.Type, "/"+slug) || len(pr.Errors) == 0 ||
		pr.Errors[0].Pointer != pointer || !strings.Contains(pr.Errors[0].Message, msg) {
		t.Fatalf("problem %s; want %s at %s saying %q", body, slug, pointer, msg)
	}
}

// jsonStored reads the weather topic and returns each event's data as
// stored, in order.
func jsonStored(p *proc, key string) []string {
	var out []string
	for _, ev := range p.readAll("weather", key) {
		raw, _ := json.Marshal(ev["data"])
		out = append(out, string(raw))
	}
	return out
}

// TestAttackDuplicateKeySmuggling: a publisher repeats a member so that
// the schema (which sees the last) passes "CLEAR" while a first-wins
// reader downstream would see "EVIL". Plain batches, structured
// CloudEvents and escaped-equal names are all refused with the pointer of
// the duplicate and nothing of the request is stored; a legitimate event
// published beside them is stored.
func TestAttackDuplicateKeySmuggling(t *testing.T) {
	p := startUp(t, t.TempDir(), "--config", jsonConfig)
	venue, screens := p.createKey("venue"), p.createKey("screens")
	legit := func(i int) string { return fmt.Sprintf(`{"station":"YAN-%d","conditions":"SNOW","temp":-7.5}`, i) }
	evil := `{"station":"YAN-9","conditions":"EVIL","conditions":"CLEAR"}`
	ce := func(data string) string {
		return `{"specversion":"1.0","id":"` + fmt.Sprint(len(data)) + `","type":"weather","data":` + data + `}`
	}
	for _, tc := range []struct {
		name, ct, body, pointer string
	}{
		{"plain batch", "application/json", "[" + legit(1) + "," + legit(2) + "," + evil + "]", "/2/conditions"},
		{"single event", "application/json", evil, "/conditions"},
		{"escaped-equal names", "application/json", `{"station":"YAN-9","conditions":"EVIL","\u0063onditions":"CLEAR"}`, "/conditions"},
		{"structured batch", "application/cloudevents-batch+json", "[" + ce(legit(1)) + "," + ce(legit(2)) + "," + ce(evil) + "]", "/2/data/conditions"},
		{"duplicated attribute", "application/cloudevents+json", `{"specversion":"1.0","type":"weather","data":` + legit(1) + `,"data":` + evil + `}`, "/data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, ct, body := jsonPost(t, p, "/v1/topics/weather/events", venue, tc.ct, tc.body)
			jsonRefused(t, code, ct, body, "malformed-json", tc.pointer, "duplicate member name")
		})
	}
	// The same decoder guards every other body: a subscription that
	// names its topic twice is refused, and none is created.
	req, _ := http.NewRequest("PUT", p.http+"/v1/subscriptions/smuggled", strings.NewReader(`{"topic":"weather","start":"earliest","start":"new"}`))
	req.Header.Set("Authorization", "Bearer "+screens)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	jsonRefused(t, resp.StatusCode, resp.Header.Get("Content-Type"), buf.Bytes(), "malformed-json", "/start", "duplicate member name")
	if code := p.request("GET", "/v1/subscriptions/smuggled", screens, "", nil); code != http.StatusNotFound {
		t.Fatalf("the refused subscription exists: %d", code)
	}

	if got := jsonStored(p, screens); len(got) != 0 {
		t.Fatalf("refused requests stored %d events: %v", len(got), got)
	}

	// The legitimate publisher beside the attacker is not disturbed.
	if code, _, body := jsonPost(t, p, "/v1/topics/weather/events", venue, "application/json", legit(3)); code != 202 {
		t.Fatalf("legitimate publish: %d %s", code, body)
	}
	got := jsonStored(p, screens)
	if len(got) != 1 || !strings.Contains(got[0], `"YAN-3"`) || strings.Contains(got[0], "EVIL") {
		t.Fatalf("stored %v; want the one legitimate event", got)
	}
}

// TestAttackHugeNumberPoisonsSink: 1e999 fits the schema (a number, no
// maximum) but no double; it is refused at the door, and the SQLite sink
// keeps draining the legitimate events published around it, with no dead
// letter and no error.
func TestAttackHugeNumberPoisonsSink(t *testing.T) {
	data := t.TempDir()
	p := startUp(t, data, "--config", jsonConfig)
	venue := p.createKey("venue")
	const legit = 20
	var want float64
	for i := range legit {
		if i == legit/2 {
			for _, n := range []string{"1e999", "-1e999", "1e309", "1e-400", "0e99999"} {
				code, ct, body := jsonPost(t, p, "/v1/topics/weather/events", venue, "application/json",
					`[{"station":"YAN-1","conditions":"CLEAR","temp":1},{"station":"YAN-2","conditions":"CLEAR","temp":`+n+`}]`)
				jsonRefused(t, code, ct, body, "malformed-json", "/1/temp", "out of the range of an IEEE 754 double")
			}
		}
		temp := fmt.Sprintf("%d.25", i-10)
		f, _ := strconv.ParseFloat(temp, 64)
		want += f
		body := fmt.Sprintf(`{"station":"YAN-%d","conditions":"CLOUDY","temp":%s,"reading":%d}`, i, temp, i)
		if code, _, raw := jsonPost(t, p, "/v1/topics/weather/events", venue, "application/json", body); code != 202 {
			t.Fatalf("legitimate publish %d: %d %s", i, code, raw)
		}
	}
	db := filepath.Join(data, "weather.db")
	var st struct {
		Lag         uint64 `json:"lag"`
		DeadLetters uint64 `json:"dead_letters"`
		LastError   string `json:"last_error"`
	}
	jsonWait(t, "the sink to drain every legitimate event", func() bool {
		return p.request("GET", "/v1/sinks/weather-db", p.admin, "", &st) == 200 && st.Lag == 0 && jsonRows(t, db) == legit
	})
	if st.DeadLetters != 0 || st.LastError != "" {
		t.Fatalf("the sink has %d dead letters, last error %q", st.DeadLetters, st.LastError)
	}
	conn, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var sum float64
	if err := conn.QueryRow(`SELECT sum(temp) FROM weather`).Scan(&sum); err != nil || sum != want {
		t.Fatalf("sum(temp) = %v (%v); want %v: every stored temperature finite and as sent", sum, err, want)
	}
}

// TestAttackUnsafeInteger: 9007199254740993 is an integer to the schema
// but not to a double (JavaScript screens, float columns read ...992); it
// is refused where the schema says "integer", and 2^53 itself is stored
// exactly.
func TestAttackUnsafeInteger(t *testing.T) {
	p := startUp(t, t.TempDir(), "--config", jsonConfig)
	venue, screens := p.createKey("venue"), p.createKey("screens")
	for _, n := range []string{"9007199254740993", "-9007199254740993", "9007199254740993.0", "1e300"} {
		code, ct, body := jsonPost(t, p, "/v1/topics/weather/events", venue, "application/json",
			`{"station":"YAN-1","conditions":"CLEAR","reading":`+n+`}`)
		jsonRefused(t, code, ct, body, "invalid-event", "/reading", "beyond ±2^53")
	}
	if code, _, raw := jsonPost(t, p, "/v1/topics/weather/events", venue, "application/json",
		`{"station":"YAN-2","conditions":"CLEAR","reading":9007199254740992,"temp":9007199254740993}`); code != 202 {
		t.Fatalf("legitimate publish: %d %s", code, raw)
	}
	var page struct {
		Events []struct {
			Data json.RawMessage `json:"data"`
		} `json:"events"`
	}
	if code := p.request("GET", "/v1/topics/weather/events?after_seq=0", screens, "", &page); code != 200 || len(page.Events) != 1 {
		t.Fatalf("read: %d, %d events", code, len(page.Events))
	}
	if !bytes.Contains(page.Events[0].Data, []byte(`"reading":9007199254740992`)) {
		t.Fatalf("stored %s; want reading 9007199254740992 exactly", page.Events[0].Data)
	}
}

// TestAttackDuplicateKeyLivePost: a viewer posts {"text":"EVIL",
// "text":"CLEAR"} over MQTT so that moderation (last wins) and a
// first-wins client would read different comments. Moderation rejects it
// (the poster is told why), nothing is stored or fanned out, and the
// viewer's next legitimate comment arrives.
func TestAttackDuplicateKeyLivePost(t *testing.T) {
	p := startProc(t, t.TempDir(), "--config", jsonConfig)
	connect := func(id, user string) paho.Client {
		o := paho.NewClientOptions().AddBroker("tcp://" + p.mqtt).SetClientID(id).SetAutoReconnect(false)
		if user != "" {
			o.SetUsername(user).SetPassword(p.viewerToken(user))
		}
		c := paho.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", id, tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(50) })
		return c
	}
	watcher, poster := connect("watcher", ""), connect("poster", "fan1")
	comments, rejections := make(chan string, 16), make(chan string, 16)
	sub := func(c paho.Client, topic string, ch chan string) {
		tok := c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { ch <- string(m.Payload()) })
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", topic, tok.Error())
		}
	}
	sub(watcher, "live/final/comments", comments)
	sub(poster, "live/final/rejected/fan1", rejections)
	post := func(payload string) {
		if tok := poster.Publish("live/final/post", 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("post %s: %v", payload, tok.Error())
		}
	}

	for _, attack := range []string{`{"text":"EVIL","text":"CLEAR"}`, `{"text":"EVIL","\u0074ext":"CLEAR"}`} {
		post(attack)
		select {
		case rj := <-rejections:
			var r struct{ Reason, Detail string }
			if json.Unmarshal([]byte(rj), &r) != nil || r.Reason != "invalid" || !strings.Contains(r.Detail, "duplicate member name") {
				t.Fatalf("rejection %s; want reason invalid naming the duplicate", rj)
			}
		case c := <-comments:
			t.Fatalf("the smuggled comment was fanned out: %s", c)
		case <-time.After(10 * time.Second):
			t.Fatal("no rejection for the smuggled comment")
		}
	}
	post(`{"text":"what a finish"}`)
	select {
	case c := <-comments:
		if !strings.Contains(c, "what a finish") {
			t.Fatalf("first comment after the attack is %s", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the legitimate comment never arrived")
	}
	// Viewers get a comment once the room's history holds it (the
	// stream's republish), so the history holds it now.
	if seen := readRoom(t, p); seen["EVIL"] != 0 || seen["CLEAR"] != 0 || seen["what a finish"] != 1 {
		t.Fatalf("history %v; want only the legitimate comment", seen)
	}
}

// jsonRows counts the rows of the weather table, 0 before it exists.
func jsonRows(t *testing.T, path string) int {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRow(`SELECT count(*) FROM weather`).Scan(&n); err != nil {
		return 0
	}
	return n
}

// jsonWait polls cond for up to 30 seconds.
func jsonWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
