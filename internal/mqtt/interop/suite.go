package interop

import (
	"errors"
	"fmt"
	"testing"
)

// The suite's topics and wildcard filters, as client_test.py names them.
var (
	topics     = [...]string{"TopicA", "TopicA/B", "Topic/C", "TopicA/C", "/TopicA"}
	wildtopics = [...]string{"TopicA/+", "+/C", "#", "/#", "/+", "+/+", "TopicA/#"}
)

// Target is a broker the suite runs against.
type Target struct {
	Addr string // host:port
	// Login gives the user name and password of a client id (none when
	// nil or when it returns "").
	Login func(clientID string) (user, password string)
	// NoSubscribe is a topic filter the broker refuses
	// ("test/nosubscribe" when empty, as the suite's -n option).
	NoSubscribe string
	// KeepAlive is the keep-alive, in seconds, of the keep-alive
	// scenario's silent client (the suite uses 5; 1 keeps a run short).
	KeepAlive uint16
}

// Scenario is one test of client_test.py.
type Scenario struct {
	Name string
	Run  func(e *Env) error
}

// Env is what a scenario runs with: the target and the suite's two
// clients, "myclientid" (A) and "myclientid2" (B).
type Env struct {
	Target
	A, B *Client
}

// Connect connects c to the target with its login.
func (e *Env) Connect(c *Client, o ConnectOptions) (sessionPresent bool, err error) {
	if e.Login != nil {
		o.Username, o.Password = e.Login(c.ID)
	}
	return c.Connect(e.Addr, o)
}

func (e *Env) noSubscribe() string {
	if e.NoSubscribe == "" {
		return "test/nosubscribe"
	}
	return e.NoSubscribe
}

// Scenarios are the tests of client_test.py, in its order; the will test
// (will_message_test there, which unittest does not pick up by its name)
// is run too.
var Scenarios = []Scenario{
	{"basic", basic},
	{"retained messages", retainedMessages},
	{"will message", willMessage},
	{"zero length client id", zeroLengthClientID},
	{"offline message queueing", offlineMessageQueueing},
	{"overlapping subscriptions", overlappingSubscriptions},
	{"keepalive", keepalive},
	{"redelivery on reconnect", redeliveryOnReconnect},
	{"subscribe failure", subscribeFailure},
	{"dollar topics", dollarTopics},
	{"unsubscribe", unsubscribe},
}

// Result is one scenario's outcome against one target.
type Result struct {
	Scenario string
	Err      error
}

// Run runs every scenario as a subtest, each against a broker of its own
// from start (what the suite's cleanup between tests gives), and returns
// the results. A failed scenario is a test error when strict, and only
// logged otherwise (a reference broker's result is a figure, not a
// requirement).
func Run(t *testing.T, start func(t *testing.T) Target, strict bool) []Result {
	var results []Result
	for _, sc := range Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			e := &Env{Target: start(t), A: NewClient("myclientid"), B: NewClient("myclientid2")}
			defer e.A.Terminate()
			defer e.B.Terminate()
			err := sc.Run(e)
			results = append(results, Result{Scenario: sc.Name, Err: err})
			switch {
			case err != nil && strict:
				t.Error(err)
			case err != nil:
				t.Logf("fails: %v", err)
			}
		})
	}
	return results
}

// Passed counts the scenarios without an error.
func Passed(rs []Result) int {
	n := 0
	for _, r := range rs {
		if r.Err == nil {
			n++
		}
	}
	return n
}

func failf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// settle waits until what the broker owed each client before now has
// arrived: a PINGREQ's answer comes after everything queued before it,
// and both brokers route a PUBLISH to subscribers before answering it.
func settle(cs ...*Client) error {
	for _, c := range cs {
		if err := c.Ping(); err != nil {
			return fmt.Errorf("%s: ping: %w", c.ID, err)
		}
	}
	return nil
}

func basic(e *Env) error {
	a := e.A
	if _, err := e.Connect(a, ConnectOptions{CleanSession: true}); err != nil {
		return failf("connect: %v", err)
	}
	if err := a.Disconnect(); err != nil {
		return failf("disconnect: %v", err)
	}
	present, err := e.Connect(a, ConnectOptions{CleanSession: true})
	if err != nil || present {
		return failf("connect again: session present %v, %v; want a new session", present, err)
	}
	if _, err := a.Subscribe([]string{topics[0]}, []byte{2}); err != nil {
		return failf("subscribe: %v", err)
	}
	for q := range byte(3) {
		if err := a.Publish(topics[0], fmt.Appendf(nil, "qos %d", q), q, false); err != nil {
			return failf("publish at QoS %d: %v", q, err)
		}
	}
	if err := a.WaitMessages(3); err != nil {
		return err
	}
	if err := settle(a); err != nil {
		return err
	}
	if n := len(a.Messages()); n != 3 {
		return failf("received %d messages, want 3", n)
	}
	a.Disconnect()

	// A second CONNECT on a connection is a protocol violation: the
	// broker closes the connection (MQTT-3.1.0-2).
	if _, err := e.Connect(a, ConnectOptions{CleanSession: true}); err != nil {
		return failf("connect: %v", err)
	}
	if _, err := a.ConnectAgain(ConnectOptions{CleanSession: true}); err == nil {
		return failf("a second CONNECT on one connection was accepted")
	}
	// A wrong protocol name is refused.
	if _, err := e.Connect(a, ConnectOptions{ProtocolName: "hj", CleanSession: true}); err == nil {
		return failf("a CONNECT with protocol name \"hj\" was accepted")
	}
	return nil
}

func retainedMessages(e *Env) error {
	a := e.A
	if present, err := e.Connect(a, ConnectOptions{CleanSession: true}); err != nil || present {
		return failf("connect: session present %v, %v", present, err)
	}
	for q := range byte(3) {
		if err := a.Publish(topics[q+1], fmt.Appendf(nil, "qos %d", q), q, true); err != nil {
			return failf("retained publish at QoS %d: %v", q, err)
		}
	}
	if _, err := a.Subscribe([]string{wildtopics[5]}, []byte{2}); err != nil {
		return failf("subscribe: %v", err)
	}
	if err := a.WaitMessages(3); err != nil {
		return err
	}
	if err := settle(a); err != nil {
		return err
	}
	if n := len(a.Messages()); n != 3 {
		return failf("%d retained messages, want 3", n)
	}
	for _, m := range a.Messages() {
		if !m.Retain {
			return failf("retained message on %s came without the retain flag", m.Topic)
		}
	}
	a.Disconnect()

	// Zero-length retained messages delete them.
	a.Clear()
	if present, err := e.Connect(a, ConnectOptions{CleanSession: true}); err != nil || present {
		return failf("connect: session present %v, %v", present, err)
	}
	for q := range byte(3) {
		if err := a.Publish(topics[q+1], nil, q, true); err != nil {
			return failf("clearing at QoS %d: %v", q, err)
		}
	}
	if _, err := a.Subscribe([]string{wildtopics[5]}, []byte{2}); err != nil {
		return failf("subscribe: %v", err)
	}
	if err := settle(a); err != nil {
		return err
	}
	if ms := a.Messages(); len(ms) != 0 {
		return failf("%d messages after clearing the retained ones, want 0 (first on %s)", len(ms), ms[0].Topic)
	}
	return a.Disconnect()
}

func willMessage(e *Env) error {
	a, b := e.A, e.B
	will := &Message{Topic: topics[2], Payload: []byte("client not disconnected")}
	if present, err := e.Connect(a, ConnectOptions{CleanSession: true, Will: will, KeepAlive: 2}); err != nil || present {
		return failf("connect with a will: session present %v, %v", present, err)
	}
	if _, err := e.Connect(b, ConnectOptions{}); err != nil {
		return failf("connect: %v", err)
	}
	if _, err := b.Subscribe([]string{topics[2]}, []byte{2}); err != nil {
		return failf("subscribe: %v", err)
	}
	a.Terminate()
	if err := b.WaitMessages(1); err != nil {
		return fmt.Errorf("the will: %w", err)
	}
	if err := settle(b); err != nil {
		return err
	}
	if n := len(b.Messages()); n != 1 {
		return failf("%d messages, want the will only", n)
	}
	return b.Disconnect()
}

func zeroLengthClientID(e *Env) error {
	c := NewClient("")
	defer c.Terminate()
	if _, err := e.Connect(c, ConnectOptions{CleanSession: false}); err == nil {
		return failf("a zero-length client id with cleanSession 0 was accepted")
	}
	if _, err := e.Connect(c, ConnectOptions{CleanSession: true}); err != nil {
		return failf("a zero-length client id with cleanSession 1 was refused: %v", err)
	}
	return c.Disconnect()
}

func offlineMessageQueueing(e *Env) error {
	a, b := e.A, e.B
	if _, err := e.Connect(a, ConnectOptions{}); err != nil {
		return failf("connect: %v", err)
	}
	if _, err := a.Subscribe([]string{wildtopics[5]}, []byte{2}); err != nil {
		return failf("subscribe: %v", err)
	}
	a.Disconnect()
	if present, err := e.Connect(b, ConnectOptions{CleanSession: true}); err != nil || present {
		return failf("connect: session present %v, %v", present, err)
	}
	for q := range byte(3) {
		if err := b.Publish(topics[q+1], fmt.Appendf(nil, "qos %d", q), q, false); err != nil {
			return failf("publish at QoS %d: %v", q, err)
		}
	}
	b.Disconnect()
	present, err := e.Connect(a, ConnectOptions{})
	if err != nil || !present {
		return failf("reconnect: session present %v, %v; want the session", present, err)
	}
	if err := a.WaitMessages(2); err != nil {
		return err
	}
	if err := settle(a); err != nil {
		return err
	}
	if n := len(a.Messages()); n != 2 && n != 3 {
		return failf("%d messages queued while offline, want 2 (QoS 1 and 2) or 3", n)
	}
	return a.Disconnect()
}

func overlappingSubscriptions(e *Env) error {
	a := e.A
	if _, err := e.Connect(a, ConnectOptions{CleanSession: true}); err != nil {
		return failf("connect: %v", err)
	}
	if _, err := a.Subscribe([]string{wildtopics[6], wildtopics[0]}, []byte{2, 1}); err != nil {
		return failf("subscribe: %v", err)
	}
	if err := a.Publish(topics[3], []byte("overlapping topic filters"), 2, false); err != nil {
		return failf("publish: %v", err)
	}
	if err := a.WaitMessages(1); err != nil {
		return err
	}
	if err := settle(a); err != nil {
		return err
	}
	ms := a.Messages()
	switch {
	case len(ms) == 1 && ms[0].QoS != 2:
		return failf("one message for both subscriptions at QoS %d, want the higher (2)", ms[0].QoS)
	case len(ms) == 2 && ms[0].QoS+ms[1].QoS != 3:
		return failf("one message per subscription at QoS %d and %d, want 2 and 1", ms[0].QoS, ms[1].QoS)
	case len(ms) > 2:
		return failf("%d messages for two subscriptions", len(ms))
	}
	return a.Disconnect()
}

func keepalive(e *Env) error {
	a, b := e.A, e.B
	ka := e.KeepAlive
	if ka == 0 {
		ka = 5
	}
	will := &Message{Topic: topics[4], Payload: []byte("keepalive expiry")}
	if _, err := e.Connect(a, ConnectOptions{CleanSession: true, KeepAlive: ka, Will: will}); err != nil {
		return failf("connect: %v", err)
	}
	if _, err := e.Connect(b, ConnectOptions{CleanSession: true}); err != nil {
		return failf("connect: %v", err)
	}
	if _, err := b.Subscribe([]string{topics[4]}, []byte{2}); err != nil {
		return failf("subscribe: %v", err)
	}
	// a says nothing: the broker must close it after 1.5 × its
	// keep-alive and publish its will.
	if err := b.WaitMessages(1); err != nil {
		return fmt.Errorf("the will of a silent client: %w", err)
	}
	if err := settle(b); err != nil {
		return err
	}
	if n := len(b.Messages()); n != 1 {
		return failf("%d messages, want the will only", n)
	}
	return b.Disconnect()
}

func redeliveryOnReconnect(e *Env) error {
	b := e.B
	if _, err := e.Connect(b, ConnectOptions{}); err != nil {
		return failf("connect: %v", err)
	}
	if _, err := b.Subscribe([]string{wildtopics[6]}, []byte{2}); err != nil {
		return failf("subscribe: %v", err)
	}
	b.Pause()
	if err := b.Publish(topics[1], nil, 1, false); err != nil {
		return failf("publish at QoS 1: %v", err)
	}
	if err := b.Publish(topics[3], nil, 2, false); err != nil {
		return failf("publish at QoS 2: %v", err)
	}
	b.Disconnect()
	if n := len(b.Messages()); n != 0 {
		return failf("%d messages reached a paused client", n)
	}
	b.Resume()
	if _, err := e.Connect(b, ConnectOptions{}); err != nil {
		return failf("reconnect: %v", err)
	}
	if err := b.WaitMessages(2); err != nil {
		return fmt.Errorf("redelivery: %w", err)
	}
	if err := settle(b); err != nil {
		return err
	}
	if n := len(b.Messages()); n != 2 {
		return failf("%d messages redelivered, want 2", n)
	}
	return b.Disconnect()
}

func subscribeFailure(e *Env) error {
	a := e.A
	if _, err := e.Connect(a, ConnectOptions{CleanSession: true}); err != nil {
		return failf("connect: %v", err)
	}
	codes, err := a.Subscribe([]string{e.noSubscribe()}, []byte{2})
	if err != nil {
		return failf("subscribe: %v", err)
	}
	if codes[0] != 0x80 {
		return failf("SUBACK return code %#x for %s, want 0x80", codes[0], e.noSubscribe())
	}
	return a.Disconnect()
}

func dollarTopics(e *Env) error {
	b := e.B
	if _, err := e.Connect(b, ConnectOptions{CleanSession: true}); err != nil {
		return failf("connect: %v", err)
	}
	if _, err := b.Subscribe([]string{wildtopics[5]}, []byte{2}); err != nil {
		return failf("subscribe: %v", err)
	}
	if err := settle(b); err != nil {
		return err
	}
	b.Clear()
	if err := b.Publish("$"+topics[1], nil, 1, false); err != nil {
		return failf("publish to $%s: %v", topics[1], err)
	}
	if err := settle(b); err != nil {
		return err
	}
	if ms := b.Messages(); len(ms) != 0 {
		return failf("%s matched %s", wildtopics[5], ms[0].Topic)
	}
	return b.Disconnect()
}

func unsubscribe(e *Env) error {
	a, b := e.A, e.B
	if _, err := e.Connect(b, ConnectOptions{CleanSession: true}); err != nil {
		return failf("connect: %v", err)
	}
	for _, t := range topics[:3] {
		if _, err := b.Subscribe([]string{t}, []byte{2}); err != nil {
			return failf("subscribe %s: %v", t, err)
		}
	}
	if err := b.Unsubscribe(topics[0]); err != nil {
		return failf("unsubscribe: %v", err)
	}
	if _, err := e.Connect(a, ConnectOptions{CleanSession: true}); err != nil {
		return failf("connect: %v", err)
	}
	for _, t := range topics[:3] {
		if err := a.Publish(t, nil, 1, false); err != nil {
			return failf("publish %s: %v", t, err)
		}
	}
	if err := b.WaitMessages(2); err != nil {
		return err
	}
	if err := settle(b); err != nil {
		return err
	}
	if ms := b.Messages(); len(ms) != 2 {
		return failf("%d messages after unsubscribing from one of three topics, want 2", len(ms))
	}
	return errors.Join(a.Disconnect(), b.Disconnect())
}
