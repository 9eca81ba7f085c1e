package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/config"
)

// ledger is the edge's scan log and the admission state derived from it.
//
// One goroutine owns the state. Scans queue up; the owner decides a group
// of them in arrival order, appends them as one message to the SCANS
// stream with the stream's last sequence as the expected one (a
// compare-and-set: if another edge process of the venue appended first,
// the group is undone, the log is replayed and the group decided again),
// waits for the durable acknowledgement (fsync) and only then answers.
// So a decision is never reported before it is stored, one fsync serves a
// whole group, and two concurrent scans of one ticket admit exactly one.
type ledger struct {
	js    jetstream.JetStream
	ctl   *ctlState
	log   *slog.Logger
	queue chan *pending

	// Owned by the run goroutine.
	tickets map[string]*ticketState
	lastSeq uint64

	scans, admitted, rejected atomic.Uint64
	lastSeqPub                atomic.Uint64

	// lat counts each batch's decision latencies until it is forwarded.
	lat *latencyBook
}

type ticketState struct {
	In    bool
	First Admission
}

type pending struct {
	scan Scan
	// start is when the scan was asked for (its decision latency ends
	// when its batch is stored).
	start time.Time
	// decided reports whether the stateless checks already rejected it.
	decided bool
	done    chan error
}

func newLedger(js jetstream.JetStream, ctl *ctlState, log *slog.Logger) *ledger {
	return &ledger{js: js, ctl: ctl, log: log, queue: make(chan *pending, 8192), tickets: map[string]*ticketState{}, lat: newLatencyBook()}
}

// replay rebuilds the admission state from the log after lastSeq.
func (l *ledger) replay(ctx context.Context) error {
	stream, err := l.js.Stream(ctx, edgeScansStream)
	if err != nil {
		return err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return err
	}
	last := info.State.LastSeq
	if last <= l.lastSeq {
		return nil
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{OptStartSeq: l.lastSeq + 1, DeliverPolicy: jetstream.DeliverByStartSequencePolicy})
	if err != nil {
		return err
	}
	for l.lastSeq < last {
		msgs, err := cons.Fetch(256, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return err
		}
		for m := range msgs.Messages() {
			if err := l.replayOne(m); err != nil {
				return err
			}
		}
		if err := msgs.Error(); err != nil {
			return err
		}
	}
	l.lastSeqPub.Store(l.lastSeq)
	return nil
}

func (l *ledger) replayOne(m jetstream.Msg) error {
	meta, err := m.Metadata()
	if err != nil {
		return err
	}
	var b batch
	if err := json.Unmarshal(m.Data(), &b); err != nil {
		return fmt.Errorf("gate: scan log entry %d is corrupt: %w", meta.Sequence.Stream, err)
	}
	for i := range b.Scans {
		l.effect(&b.Scans[i], nil)
		l.count(&b.Scans[i])
	}
	l.lastSeq = meta.Sequence.Stream
	return nil
}

// effect applies an accepted scan to the state, saving what it changes
// in undo (when not nil) first.
func (l *ledger) effect(s *Scan, undo map[string]*ticketState) {
	if s.Decision != Accept || s.Ticket == nil {
		return
	}
	id := s.Ticket.ID
	st := l.tickets[id]
	if undo != nil {
		if _, saved := undo[id]; !saved {
			if st == nil {
				undo[id] = nil
			} else {
				cp := *st
				undo[id] = &cp
			}
		}
	}
	if st == nil {
		st = &ticketState{First: Admission{Gate: s.Gate, At: s.At}}
		l.tickets[id] = st
	}
	st.In = s.Direction == "in"
}

func (l *ledger) count(s *Scan) {
	l.scans.Add(1)
	if s.Decision == Accept {
		l.admitted.Add(1)
	} else {
		l.rejected.Add(1)
	}
}

// decide makes the stateful part of a decision: entry and exit rules.
func (l *ledger) decide(s *Scan, settings config.EdgeSettings) {
	st := l.tickets[s.Ticket.ID]
	s.Reason, s.First = "", nil
	switch s.Direction {
	case "in":
		if st != nil && (st.In || settings.Reentry != config.ReentryAllowAfterExit) {
			first := st.First
			s.Decision, s.Reason, s.First = Reject, ReasonAdmitted, &first
			return
		}
	case "out":
		if st == nil || !st.In {
			s.Decision, s.Reason = Reject, ReasonNoEntry
			return
		}
	}
	s.Decision = Accept
}

// submit queues a scan and waits until its decision is stored.
func (l *ledger) submit(ctx context.Context, p *pending) error {
	p.done = make(chan error, 1)
	select {
	case l.queue <- p:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run owns the state until ctx ends.
func (l *ledger) run(ctx context.Context) {
	group := make([]*pending, 0, 4096)
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-l.queue:
			group = append(group[:0], p)
		}
		limit := l.ctl.config().Settings.MaxBatch
	fill:
		for len(group) < limit {
			select {
			case p := <-l.queue:
				group = append(group, p)
			default:
				break fill
			}
		}
		err := l.commit(ctx, group)
		for _, p := range group {
			p.done <- err
		}
	}
}

// scansTotalHeader on each scan-log entry counts the venue's scans up to
// and including it, so the cloud knows what it holds from the last entry.
const scansTotalHeader = "Stadion-Scans-Total"

// ErrStore means a scan could not be stored; the gate should retry.
var ErrStore = errors.New("scan not stored")

// commit decides and appends one group, retrying on a lost
// compare-and-set.
func (l *ledger) commit(ctx context.Context, group []*pending) error {
	settings := l.ctl.config()
	for attempt := 0; attempt < 5; attempt++ {
		undo := map[string]*ticketState{}
		b := batch{ConfigVersion: settings.Version, Scans: make([]Scan, len(group))}
		for i, p := range group {
			if !p.decided {
				l.decide(&p.scan, settings.Settings)
			}
			l.effect(&p.scan, undo)
			b.Scans[i] = p.scan
		}
		lat := l.lat.open(l.lastSeq + 1)
		seq, err := l.append(ctx, &b)
		l.lat.close(l.lastSeq+1, lat, starts(group), time.Now(), err == nil)
		if err == nil {
			l.lastSeq = seq
			l.lastSeqPub.Store(seq)
			for i := range b.Scans {
				l.count(&b.Scans[i])
			}
			return nil
		}
		l.undo(undo)
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
			l.log.Error("scan log write failed", "err", err, "scans", len(group))
			return fmt.Errorf("%w: %v", ErrStore, err)
		}
		if err := l.replay(ctx); err != nil {
			return fmt.Errorf("%w: replay: %v", ErrStore, err)
		}
	}
	return fmt.Errorf("%w: the scan log kept changing under this edge", ErrStore)
}

func starts(group []*pending) []time.Time {
	out := make([]time.Time, len(group))
	for i, p := range group {
		out[i] = p.start
	}
	return out
}

func (l *ledger) undo(undo map[string]*ticketState) {
	for id, st := range undo {
		if st == nil {
			delete(l.tickets, id)
		} else {
			l.tickets[id] = st
		}
	}
}

func (l *ledger) append(ctx context.Context, b *batch) (uint64, error) {
	raw, err := json.Marshal(b)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m := newMsg(edgeScansSubj, raw)
	m.Header.Set(scansTotalHeader, strconv.FormatUint(l.scans.Load()+uint64(len(b.Scans)), 10))
	ack, err := l.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequence(l.lastSeq))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}
