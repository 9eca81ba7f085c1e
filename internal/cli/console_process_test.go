package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/stadion-dev/stadion/internal/proctest"
)

// browser is a headless Chromium driving one tab, with the page's
// JavaScript errors collected.
type browser struct {
	t   *testing.T
	ctx context.Context
	dir string // where screenshots go

	mu     sync.Mutex
	errors []string
	// denials: 4xx answers are expected (a key that may not see a view).
	denials bool
}

// startBrowser runs Debian's chromium headless with a profile in a temp
// directory (--no-sandbox only as root, where the sandbox cannot start).
func startBrowser(t *testing.T, timeout time.Duration) *browser {
	t.Helper()
	exe := proctest.NeedTool(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 800))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancel() })
	b := &browser{t: t, ctx: bctx, dir: artifactDir(t, "console")}
	if err := chromedp.Listen(bctx, b.collect); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if _, err := chromedp.Call(bctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return b
}

// artifactDir is where a test keeps what a person may want to look at:
// $STADION_ARTIFACTS/<name> when set (.ci/run sets it), else a temp dir.
func artifactDir(t *testing.T, name string) string {
	dir := t.TempDir()
	if a := os.Getenv("STADION_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (b *browser) collect(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeWarning {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			parts = append(parts, string(a.Value)+a.Description)
		}
		msg = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " "))
	case *cdplog.EventEntryAdded:
		// CSP violations, failed loads and errors the page did not log itself.
		if ev.Entry.Level != cdplog.EntryLevelError {
			return
		}
		b.mu.Lock()
		denials := b.denials
		b.mu.Unlock()
		if denials && ev.Entry.Source == cdplog.EntrySourceNetwork && strings.Contains(ev.Entry.Text, "status of 40") {
			return
		}
		msg = fmt.Sprintf("log %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
	default:
		return
	}
	b.mu.Lock()
	b.errors = append(b.errors, msg)
	b.mu.Unlock()
}

// do runs actions, failing the test on an error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\n%s", what, err, b.errs())
	}
}

// eval runs a JavaScript expression in the page.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds (at most d).
func (b *browser) waitFor(what, js string, d time.Duration, between ...func()) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js)); err == nil && ok {
			return
		}
		for _, f := range between {
			f()
		}
		time.Sleep(100 * time.Millisecond) // a poll interval, not a wait for readiness
	}
	b.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
	b.t.Fatalf("%s: not so after %s\n%s", what, d, b.errs())
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", path)
}

func (b *browser) errs() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.errors, "\n")
}

// view clicks a navigation button and waits for its view.
func (b *browser) view(name string) {
	b.t.Helper()
	b.do("open "+name, chromedp.Click(chromedp.CSS(fmt.Sprintf(`nav [data-view=%q]`, name))))
	b.waitFor("view "+name, fmt.Sprintf(`location.hash === "#%s" && document.querySelector('nav [data-view=%q]').getAttribute('aria-current') === 'page'`, name, name), 20*time.Second)
}

// rowText is a JS expression: the text of column col of the row of table
// label whose first cell is key ("" when there is none).
func rowText(label, key string, col int) string {
	return fmt.Sprintf(`(() => { for (const tr of document.querySelectorAll('table[aria-label=%q] tbody tr')) { if (tr.cells[0].textContent === %q) return tr.cells[%d].textContent; } return ''; })()`, label, key, col)
}

// TestConsoleInBrowser drives the console in headless Chromium against
// the real binary: sign in with the keyboard, see the topics, publish and
// watch the rate move, pause and resume a sink, close a room and pin a
// message, reach every main control with Tab, render on a phone without
// sideways scrolling, and sign in with a client key that sees only its
// own topics. Screenshots are kept as artefacts.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser against the real binary")
	}
	needTool(t, "ffmpeg", "ffmpeg")
	dir := t.TempDir()
	clip := filepath.Join(dir, "clip.mp4")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
		"-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", clip).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	files := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer files.Close()
	video := files.URL + "/clip.mp4"
	p := startUp(t, filepath.Join(dir, "data"), "--config", "testdata/console/stadion.yaml")
	timing, screens, core := p.createKey("timing"), p.createKey("screens"), p.createKey("core")
	for _, sub := range []struct{ name, key, topic string }{{"screens-board", screens, "laps"}, {"core-feed", core, "secrets"}} {
		body := fmt.Sprintf(`{"topic":%q,"start":"earliest","ack_wait":"1s","retry":{"schedule":["1s"],"max_attempts":1}}`, sub.topic)
		if code := p.request("PUT", "/v1/subscriptions/"+sub.name, sub.key, body, nil); code != 201 {
			t.Fatalf("subscription %s: %d", sub.name, code)
		}
	}
	b := startBrowser(t, 4*time.Minute)

	// Sign in with the keyboard only.
	b.do("open the console", chromedp.Navigate(p.http+"/"), chromedp.WaitVisible(chromedp.ID("key")))
	b.screenshot("01-signin")
	b.mu.Lock()
	b.denials = true // the wrong key's 401
	b.mu.Unlock()
	b.do("type a wrong key", chromedp.SendKeys(chromedp.ID("key"), "stk_0000000000000000_wrong"), chromedp.KeyEvent(kb.Enter))
	b.waitFor("wrong key refused", `document.getElementById('signin-error').textContent.includes('not valid') && document.getElementById('nav').hidden && document.activeElement.id === 'key'`, 20*time.Second)
	b.mu.Lock()
	b.denials = false
	b.mu.Unlock()
	eval[bool](b, `(() => { document.getElementById('key').value = ''; return true; })()`)
	b.do("type the key", chromedp.Focus(chromedp.ID("key")), chromedp.KeyEvent(p.admin), chromedp.KeyEvent(kb.Enter))
	b.waitFor("signed in", `!document.getElementById('nav').hidden && document.getElementById('who').textContent.includes('admin')`, 20*time.Second)
	if inURL := eval[bool](b, `location.href.includes('stk_')`); inURL {
		t.Fatal("the key is in the page's URL")
	}
	b.waitFor("overview health", `document.body.textContent.includes('overall')`, 20*time.Second)
	b.screenshot("02-overview-1280x800")

	// Topics: listed; publishing moves the rate.
	b.view("topics")
	b.waitFor("topics listed", rowText("Topics", "laps", 0)+` === 'laps' && `+rowText("Topics", "secrets", 0)+` === 'secrets'`, 30*time.Second)
	n := 0
	publish := func() {
		for range 20 {
			n++
			body := fmt.Sprintf(`{"athlete":"NOR-%d","n":%d,"ms":%d}`, n%7, n, 60000+n)
			if code := p.request("POST", "/v1/topics/laps/events", timing, body, nil); code != 202 {
				t.Fatalf("publish: %d", code)
			}
		}
	}
	publish()
	b.waitFor("laps rate above zero", `parseFloat(`+rowText("Topics", "laps", 2)+`) > 0`, 60*time.Second, publish)
	b.waitFor("laps events counted", `parseFloat(`+rowText("Topics", "laps", 4)+`) >= 20`, 30*time.Second)
	b.do("open laps", chromedp.Click(chromedp.CSS(`button[aria-label="Open topic laps"]`)))
	b.waitFor("last events shown", `!!document.querySelector('ul[aria-label="Last events of laps"] li')`, 30*time.Second)
	b.waitFor("subscribers and their lag shown", `(() => { const t = document.querySelector('ul[aria-label="Subscribers of laps and their lag"]').textContent; return t.includes('sink laps-db') && t.includes('subscription screens-board'); })()`, 30*time.Second)
	// An event is shown as text: markup in it is never run.
	evil := `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>`
	if code := p.request("POST", "/v1/topics/laps/events", timing, fmt.Sprintf(`{"athlete":"NOR-9","n":9999,"ms":1,"pad":%q}`, evil), nil); code != 202 {
		t.Fatalf("publish: %d", code)
	}
	b.waitFor("markup shown as text", `document.querySelector('ul[aria-label="Last events of laps"]').textContent.includes('<img src=x')`, 20*time.Second)
	if eval[bool](b, `window.pwned !== undefined || document.querySelectorAll('#view img[src="x"], #view script').length > 0`) {
		t.Fatal("markup in an event ran in the page")
	}
	b.do("replay from 1", chromedp.SendKeys(chromedp.ID("replay-from"), "1"), chromedp.Click(chromedp.CSS(`#replay-from + button`)))
	b.waitFor("replayed events shown", `document.querySelectorAll('ul[aria-label="Replayed events of laps"] li').length === 20`, 30*time.Second)
	b.screenshot("03-topics")

	// A dead letter of a subscription, redriven from the page.
	deadLetters := func() int {
		var out struct {
			DeadLetters []json.RawMessage `json:"dead_letters"`
		}
		p.request("GET", "/v1/subscriptions/screens-board/dead-letters", screens, "", &out)
		return len(out.DeadLetters)
	}
	waitFor(t, "a dead letter", func() bool {
		var pulled struct {
			Events []struct {
				AckID string `json:"ack_id"`
			} `json:"events"`
		}
		p.request("POST", "/v1/subscriptions/screens-board/pull", screens, `{"max":1,"wait":"1s"}`, &pulled)
		for _, e := range pulled.Events {
			p.request("POST", "/v1/subscriptions/screens-board/nack", screens, fmt.Sprintf(`{"ack_ids":[%q],"error":"board rejected it"}`, e.AckID), nil)
		}
		return deadLetters() > 0
	})
	b.do("show dead letters", chromedp.Click(chromedp.CSS(`button[aria-label="Show the dead letters of screens-board"]`)))
	b.waitFor("dead letters counted", `(() => { const b = document.querySelector('button[aria-label="Redrive the dead letters of screens-board"]'); return !!b && !b.hidden && b.parentElement.textContent.includes('waiting'); })()`, 30*time.Second)
	b.screenshot("03b-dead-letters")
	b.do("redrive", chromedp.Click(chromedp.CSS(`button[aria-label="Redrive the dead letters of screens-board"]`)))
	b.waitFor("dead letters redriven", `document.querySelector('button[aria-label="Redrive the dead letters of screens-board"]').hidden`, 30*time.Second)
	if n := deadLetters(); n != 0 {
		t.Fatalf("%d dead letters left after Redrive", n)
	}

	// Sinks: pause, then resume, through the page.
	b.view("sinks")
	b.waitFor("sink listed", rowText("Sinks", "laps-db", 2)+` === 'running'`, 30*time.Second)
	b.do("pause", chromedp.Click(chromedp.CSS(`button[aria-label="Pause sink laps-db"]`)))
	b.waitFor("sink paused", rowText("Sinks", "laps-db", 2)+` === 'paused'`, 30*time.Second)
	var sink struct{ State string }
	if p.request("GET", "/v1/sinks/laps-db", p.admin, "", &sink); sink.State != "paused" {
		t.Fatalf("after Pause the API says the sink is %q", sink.State)
	}
	b.screenshot("04-sink-paused")
	b.do("resume", chromedp.Click(chromedp.CSS(`button[aria-label="Resume sink laps-db"]`)))
	b.waitFor("sink running", rowText("Sinks", "laps-db", 2)+` === 'running'`, 30*time.Second)
	if p.request("GET", "/v1/sinks/laps-db", p.admin, "", &sink); sink.State != "running" {
		t.Fatalf("after Resume the API says the sink is %q", sink.State)
	}

	// Live rooms: close one, pin a message.
	b.view("live")
	b.waitFor("room shown", `!!document.querySelector('section[aria-label="Room curling"] dl dd')`, 30*time.Second)
	b.do("close curling", chromedp.SetValue(chromedp.ID("room-curling-state"), "closed"),
		chromedp.Click(chromedp.CSS(`button[aria-label="Set the state of room curling"]`)))
	b.waitFor("curling closed", `document.querySelector('section[aria-label="Room curling"] h3').textContent.includes('closed')`, 30*time.Second)
	var room struct{ State struct{ State string } }
	if p.request("GET", "/v1/live/curling", p.admin, "", &room); room.State.State != "closed" {
		t.Fatalf("after Set state the API says curling is %q", room.State.State)
	}
	b.do("pin", chromedp.SendKeys(chromedp.ID("room-curling-pin"), "Final in ten minutes"),
		chromedp.Click(chromedp.CSS(`button[aria-label="Pin the message in curling"]`)))
	b.waitFor("pinned", `document.querySelector('section[aria-label="Room curling"]').textContent.includes('Pinned: Final in ten minutes')`, 30*time.Second)
	var pin struct{ Pinned struct{ Text string } }
	if p.request("GET", "/v1/live/curling/pinned", p.admin, "", &pin); pin.Pinned.Text != "Final in ten minutes" {
		t.Fatalf("pinned message through the API: %+v", pin)
	}
	b.screenshot("05-live")

	// Capture: a frame taken on the page's "Capture now" appears in the gallery.
	if code := p.request("PUT", "/v1/capture/jobs/sheet-a", p.admin, fmt.Sprintf(`{"source":%q,"sizes":["320x180"]}`, video), nil); code != 201 {
		t.Fatalf("put capture job: %d", code)
	}
	b.view("capture")
	b.do("capture now", chromedp.Click(chromedp.CSS(`button[aria-label="Capture a frame of sheet-a now"]`)))
	b.waitFor("thumbnail shown", `(() => { const i = document.querySelector('img[alt="Newest frame of sheet-a"]'); return !!i && i.src.startsWith('blob:') && i.complete && i.naturalWidth === 320; })()`, 60*time.Second)
	b.screenshot("06-capture")

	b.view("venues")
	b.waitFor("venue shown", `!!document.querySelector('section[aria-label="Venue bird-nest"] dl dd') && !!document.querySelector('ul[aria-label="Admissions per gate at bird-nest, last minute"]')`, 30*time.Second)
	b.screenshot("07-venues")

	consoleKeyboard(t, b)
	consolePhone(t, b)
	consoleClientKey(t, p, b, screens)

	if e := b.errs(); e != "" {
		t.Fatalf("the page logged errors:\n%s", e)
	}
}

// consoleKeyboard tabs from the top of the page and checks that the
// navigation, sign-out and the view's controls are reached, each with a
// visible focus outline.
func consoleKeyboard(t *testing.T, b *browser) {
	b.view("sinks")
	b.do("focus the top", chromedp.Focus(chromedp.CSS(".skip")))
	reached := map[string]bool{}
	for range 40 {
		b.do("tab", chromedp.KeyEvent(kb.Tab))
		label := eval[string](b, `(() => { const e = document.activeElement; if (!e || e === document.body) return ''; const s = getComputedStyle(e); return (s.outlineStyle === 'none' || s.outlineWidth === '0px' ? 'NOFOCUS:' : '') + (e.getAttribute('aria-label') || e.textContent.trim()); })()`)
		if strings.HasPrefix(label, "NOFOCUS:") {
			t.Errorf("focus on %q is not visible", strings.TrimPrefix(label, "NOFOCUS:"))
		}
		reached[label] = true
	}
	for _, want := range []string{"Skip to content", "Sign out", "Overview", "Topics", "Sinks", "Venues", "Live rooms", "Capture", "Pause sink laps-db"} {
		if !reached[want] {
			t.Errorf("Tab never reached %q (reached %v)", want, reached)
		}
	}
	// Enter on a focused navigation button opens its view.
	b.do("focus topics", chromedp.Focus(chromedp.CSS(`nav [data-view="topics"]`)), chromedp.KeyEvent(kb.Enter))
	b.waitFor("topics by keyboard", `location.hash === '#topics'`, 20*time.Second)
}

// consolePhone renders every view at 390×844 and checks that nothing
// makes the page scroll sideways.
func consolePhone(t *testing.T, b *browser) {
	b.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	defer b.do("desktop viewport", chromedp.EmulateViewport(1280, 800))
	for _, v := range []string{"overview", "topics", "sinks", "venues", "live", "capture"} {
		b.view(v)
		b.waitFor("phone "+v+" rendered", `document.querySelectorAll('#view .card').length > 0`, 20*time.Second)
		b.waitFor("phone "+v+" without sideways scroll", `document.documentElement.scrollWidth <= window.innerWidth`, 5*time.Second)
		b.screenshot("08-phone-" + v)
	}
}

// consoleClientKey signs in with the key of client screens: it sees the
// topic it reads, not the one it does not, and neither sinks nor venues.
func consoleClientKey(t *testing.T, p *proc, b *browser, key string) {
	b.mu.Lock()
	b.denials = true // from here the probes of views this key may not see answer 403
	b.mu.Unlock()
	b.do("sign out", chromedp.Click(chromedp.ID("signout")))
	b.waitFor("signed out", `!document.getElementById('signin').hidden`, 20*time.Second)
	if stored := eval[bool](b, `sessionStorage.length > 0`); stored {
		t.Fatal("the key stayed in session storage after sign-out")
	}
	b.do("sign in as screens", chromedp.SendKeys(chromedp.ID("key"), key), chromedp.Click(chromedp.ID("signin-button")))
	b.waitFor("signed in as screens", `document.getElementById('who').textContent.includes('screens')`, 30*time.Second)
	b.waitFor("sinks hidden", `document.querySelector('nav [data-view="sinks"]').hidden && document.querySelector('nav [data-view="venues"]').hidden`, 30*time.Second)
	b.view("topics")
	b.waitFor("own topic listed", rowText("Topics", "laps", 0)+` === 'laps'`, 30*time.Second)
	if other := eval[string](b, rowText("Topics", "secrets", 0)); other != "" {
		t.Fatal("client screens sees topic secrets")
	}
	b.waitFor("own subscription listed", rowText("Subscriptions", "screens-board", 1)+` === 'laps'`, 30*time.Second)
	if other := eval[string](b, rowText("Subscriptions", "core-feed", 0)); other != "" {
		t.Fatal("client screens sees subscription core-feed")
	}
	b.screenshot("09-client-key-topics")

	// A control the API refuses to this key disappears, every one of its
	// kind; other controls stay.
	b.view("live")
	b.do("set a state without the right", chromedp.Click(chromedp.CSS(`button[aria-label="Set the state of room curling"]`)))
	b.waitFor("state controls hidden", `[...document.querySelectorAll('[data-act="room-state"]')].every((b) => b.hidden) && document.querySelectorAll('button[data-act="room-state"]').length === 2 && document.querySelector('#room-final-state').offsetParent === null`, 30*time.Second)
	if eval[bool](b, `document.querySelector('button[aria-label="Pin the message in final"]').hidden`) {
		t.Error("a refused state change hid the pin control too")
	}
	var room struct{ State struct{ State string } }
	if p.request("GET", "/v1/live/final", p.admin, "", &room); room.State.State != "open" {
		t.Fatalf("client screens changed room final to %q", room.State.State)
	}
	b.screenshot("10-client-key-live")
}

// TestConsoleMinimalConfigInBrowser: on a server without venues or
// capture the page hides their views without asking for routes that do
// not exist (no failed request in the browser's log), and with every
// room name allowed it opens a room by name.
func TestConsoleMinimalConfigInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser against the real binary")
	}
	p := startUp(t, t.TempDir(), "--config", "testdata/console-minimal/stadion.yaml")
	b := startBrowser(t, 2*time.Minute)
	b.do("sign in", chromedp.Navigate(p.http+"/"), chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), p.admin), chromedp.KeyEvent(kb.Enter))
	b.waitFor("signed in", `!document.getElementById('nav').hidden`, 30*time.Second)
	if !eval[bool](b, `document.querySelector('nav [data-view="venues"]').hidden && document.querySelector('nav [data-view="capture"]').hidden`) {
		t.Error("the views of capabilities this server does not run are shown")
	}
	b.view("live")
	b.do("open a room", chromedp.SendKeys(chromedp.ID("room-name"), "hockey"), chromedp.Click(chromedp.CSS(`#room-name + button`)))
	b.waitFor("room opened", `!!document.querySelector('section[aria-label="Room hockey"] dl dd')`, 30*time.Second)
	b.view("sinks")
	b.view("topics")
	b.waitFor("topics listed", rowText("Topics", "laps", 0)+` === 'laps'`, 30*time.Second)
	b.screenshot("11-minimal-config")
	if e := b.errs(); e != "" {
		t.Fatalf("the page logged errors:\n%s", e)
	}
}
