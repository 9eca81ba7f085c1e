package capture

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/exchange"
)

const apiConfig = `
topics:
  results: {kind: realtime}
  thumbnails: {kind: realtime, subscribers: [screens]}
clients:
  screens: {}
  producer: {roles: [capture]}
  odf: {}
capture:
  allow: ["127.0.0.1", "localhost"]
  enabled: true
  jobs:
    from-file:
      source: /dev/null
      sizes: [160x90]
`

// Jobs are added, changed and deleted at run time; every worker sees them;
// bad jobs get field errors; roles decide who may do what.
func TestJobsAPI(t *testing.T) {
	needFFmpeg(t)
	url := startNATS(t)
	cfg := testConfig(t, apiConfig)
	a := startWorker(t, url, cfg)
	b := startWorker(t, url, cfg)
	admin, other := serveAPI(t, a.svc, "producer"), serveAPI(t, b.svc, "admin")

	resp, raw := admin.do("PUT", "/v1/capture/jobs/new-job", `{"source":"ftp://x","every":"0.5s","sizes":["320x181"],"format":"gif"}`)
	var problem struct {
		Errors []struct{ Pointer, Message string }
	}
	_ = json.Unmarshal(raw, &problem)
	pointers := map[string]bool{}
	for _, e := range problem.Errors {
		pointers[e.Pointer] = true
	}
	if resp.StatusCode != 400 || !pointers["/source"] || !pointers["/every"] || !pointers["/sizes/0"] || !pointers["/format"] {
		t.Fatalf("bad job: %d %s", resp.StatusCode, raw)
	}
	if resp, raw := admin.do("PUT", "/v1/capture/jobs/new-job", `{"source":"http://127.0.0.1:1/a.m3u8","every":"1m","sizes":["320x180"]}`); resp.StatusCode != 201 {
		t.Fatalf("PUT: %d %s", resp.StatusCode, raw)
	}
	eventually(t, 5*time.Second, "the other worker to see the job", func() bool {
		resp, _ := other.do("GET", "/v1/capture/jobs/new-job", "")
		return resp.StatusCode == 200
	})
	if v := other.job("new-job"); v.Origin != originAPI || v.Spec.Every != "1m0s" || v.NextTick == nil {
		t.Errorf("job as the other worker sees it: %+v", v)
	}
	if resp, raw := admin.do("PUT", "/v1/capture/jobs/local", `{"source":"/etc/passwd"}`); resp.StatusCode != 400 || !strings.Contains(string(raw), "needs a job in stadion.yaml") {
		t.Errorf("PUT of a local file: %d %s", resp.StatusCode, raw)
	}
	if resp, raw := admin.do("PUT", "/v1/capture/jobs/inside", `{"source":"http://169.254.169.254/latest/meta-data","every":"1m"}`); resp.StatusCode != 400 || !strings.Contains(string(raw), "not in capture.allow") {
		t.Errorf("PUT of a host outside capture.allow: %d %s", resp.StatusCode, raw)
	}
	if resp, raw := admin.do("PUT", "/v1/capture/jobs/rtsp", `{"source":"rtsp://127.0.0.1/cam","every":"1m"}`); resp.StatusCode != 400 || !strings.Contains(string(raw), "RTSP sources can only be read by jobs declared in stadion.yaml") {
		t.Errorf("PUT of an RTSP job: %d %s", resp.StatusCode, raw)
	}
	if resp, _ := admin.do("PUT", "/v1/capture/jobs/from-file", `{"source":"http://127.0.0.1/a.m3u8"}`); resp.StatusCode != http.StatusConflict {
		t.Errorf("PUT of a job from the file: %d, want 409", resp.StatusCode)
	}
	for _, c := range []struct {
		as, method, path string
		want             int
	}{
		{"screens", "GET", "/v1/capture/jobs", 200},
		{"screens", "POST", "/v1/capture/jobs/new-job/trigger", 403},
		{"odf", "GET", "/v1/capture/jobs", 403},
		{"screens", "GET", "/v1/capture/jobs/nope/latest", 404},
		{"screens", "GET", "/v1/capture/jobs/new-job/latest", 404},
		{"screens", "GET", "/v1/capture/jobs/new-job/frames?since=yesterday", 400},
	} {
		if resp, raw := serveAPI(t, a.svc, c.as).do(c.method, c.path, ""); resp.StatusCode != c.want {
			t.Errorf("%s %s %s: %d %s, want %d", c.as, c.method, c.path, resp.StatusCode, raw, c.want)
		}
	}
	if resp, raw := other.do("DELETE", "/v1/capture/jobs/new-job", ""); resp.StatusCode != 204 {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, raw)
	}
	eventually(t, 5*time.Second, "the job to go everywhere", func() bool {
		resp, _ := admin.do("GET", "/v1/capture/jobs/new-job", "")
		return resp.StatusCode == 404
	})
}

// A job with an event trigger captures once per matching event, however
// many workers follow the topic.
func TestEventTrigger(t *testing.T) {
	needFFmpeg(t)
	url := startNATS(t)
	video := testVideo(t, t.TempDir(), "clip.mp4", 2)
	cfg := testConfig(t, strings.Replace(apiConfig, "/dev/null", video, 1)+`
      on:
        topic: results
        filter: {/status: OFFICIAL, /header/version: 2}
`)
	nc, _ := nats.Connect(url)
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: exchange.StreamName("results"), Subjects: []string{exchange.SubjectFilter("results")}}); err != nil {
		t.Fatal(err)
	}
	a := startWorker(t, url, cfg)
	startWorker(t, url, cfg) // a second process following the same topic
	c := serveAPI(t, a.svc, "admin")
	eventually(t, 5*time.Second, "both workers to follow the topic", func() bool {
		info, err := js.Stream(ctx, exchange.StreamName("results"))
		return err == nil && info.CachedInfo().State.Consumers >= 2
	})
	for _, ev := range []string{
		`{"status":"LIVE","header":{"version":2}}`,
		`{"status":"OFFICIAL","header":{"version":1}}`,
		`{"status":"OFFICIAL","header":{"version":2}}`,
		`{"status":"OFFICIAL","header":{"version":2.0},"again":true}`,
	} {
		envelope := fmt.Sprintf(`{"specversion":"1.0","id":"x","source":"/clients/odf","type":"t","data":%s}`, ev)
		if _, err := js.Publish(ctx, "topic.results.unit", []byte(envelope)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "the events' captures, and no tick left", func() bool {
		info, err := a.svc.ticks.cons.Info(ctx)
		return c.job("from-file").Captures >= 2 && err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	frames := c.frames("from-file")
	if len(frames) != 2 || frames[0].Trigger != kindEvent {
		t.Errorf("frames %+v, want two, fired by the matching events", frames)
	}
}
