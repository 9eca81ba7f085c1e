package live

import (
	"context"
	"hash/maphash"
	"runtime"
	"strings"

	"github.com/nats-io/nats.go"
)

// fanoutQueue is how many engine messages wait for each fanout goroutine;
// beyond, the engine client drops them (a slow consumer) rather than grow.
const fanoutQueue = 16 << 10

// fanout hands the engine messages of every watched MQTT filter to the
// MQTT server from a fixed set of goroutines. Each filter's engine
// subscription feeds the channel of one of them, chosen by the filter (so
// a filter's messages keep their order): a watched filter costs an engine
// subscription and no goroutine, however many filters viewers ask for.
type fanout struct {
	seed  maphash.Seed
	chans []chan *nats.Msg
}

func newFanout() *fanout {
	n := min(max(runtime.GOMAXPROCS(0), 1), 16)
	f := &fanout{seed: maphash.MakeSeed(), chans: make([]chan *nats.Msg, n)}
	for i := range f.chans {
		f.chans[i] = make(chan *nats.Msg, fanoutQueue)
	}
	return f
}

// chanFor is the channel that carries filter's messages.
func (f *fanout) chanFor(filter string) chan *nats.Msg {
	return f.chans[maphash.String(f.seed, filter)%uint64(len(f.chans))]
}

// queued is how many messages wait in all channels.
func (f *fanout) queued() int {
	n := 0
	for _, ch := range f.chans {
		n += len(ch)
	}
	return n
}

// run delivers from every channel until ctx ends, one goroutine each.
func (f *fanout) run(ctx context.Context, start func(func()), deliver func(filter string, m *nats.Msg)) {
	for _, ch := range f.chans {
		start(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-ch:
					deliver(subjectFilter(m.Sub.Subject), m)
				}
			}
		})
	}
}

// subjectFilter is the MQTT filter of a watch's engine subject (the
// inverse of filterSubject: filters that pass the ACL hold no '.', '*' or
// '>' of their own).
func subjectFilter(subject string) string {
	levels := strings.Split(strings.TrimPrefix(subject, "mq."), ".")
	for i, lv := range levels {
		switch lv {
		case "*":
			levels[i] = "+"
		case ">":
			levels[i] = "#"
		}
	}
	return strings.Join(levels, "/")
}
