package gate

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"
)

// EdgeStatus is the edge's own account (`stadion venue status`).
type EdgeStatus struct {
	Venue  string `json:"venue"`
	Domain string `json:"domain"`
	Link   string `json:"link"`
	// LinkedTo is the cloud node (host:port of its leafnode listener) the
	// link is on while it is up; with a clustered cloud it changes when
	// the link fails over.
	LinkedTo string     `json:"linked_to,omitempty"`
	Started  time.Time  `json:"started"`
	Control  ctlSummary `json:"control"`
	Scans    uint64     `json:"scans"`
	Admitted uint64     `json:"admitted"`
	Rejected uint64     `json:"rejected"`
	LogSeq   uint64     `json:"log_seq"`
	// Backlog is how many stored scan groups the cloud has not taken yet.
	Backlog int64 `json:"forward_backlog_groups"`
}

// Status reports the edge's state.
func (e *Edge) Status(ctx context.Context) EdgeStatus {
	s := EdgeStatus{
		Venue: e.venue, Domain: e.eng.Domain(), Link: "down", Started: e.started,
		Control: e.ctl.summary(), Scans: e.led.scans.Load(),
		Admitted: e.led.admitted.Load(), Rejected: e.led.rejected.Load(),
		LogSeq: e.led.lastSeqPub.Load(), Backlog: -1,
	}
	if e.eng.LeafConnected() {
		s.Link = "up"
		if peers := e.eng.LeafPeers(); len(peers) > 0 {
			s.LinkedTo = peers[0]
		}
	}
	if stream, err := e.js.Stream(ctx, edgeScansStream); err == nil {
		for info := range stream.ListConsumers(ctx).Info() {
			s.Backlog = max(s.Backlog, int64(info.NumPending+uint64(info.NumAckPending)))
		}
	}
	if s.Backlog < 0 {
		s.Backlog = int64(s.LogSeq) // the cloud has never taken any
	}
	return s
}

// serveDiagnostics answers the cloud's requests over the edge's outbound
// link: no port is opened at the venue.
func (e *Edge) serveDiagnostics() error {
	for what, h := range map[string]nats.MsgHandler{"status": e.onStatus, "logs": e.onLogs, "anomalies": e.onAnomalies} {
		sub, err := e.nc.Subscribe(diagSubject(e.venue, what), h)
		if err != nil {
			return err
		}
		e.subs = append(e.subs, sub)
	}
	return nil
}

func (e *Edge) onStatus(m *nats.Msg) {
	if !e.fromCloud(m) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	raw, _ := json.Marshal(e.Status(ctx))
	_ = m.Respond(raw)
}

// fromCloud reports whether a diagnostics request asks for its answer in
// the venue's reply namespace, where the cloud waits for it; the edge
// answers nowhere else.
func (e *Edge) fromCloud(m *nats.Msg) bool {
	if inReplyNamespace(m.Reply, replyPrefix(e.venue)) {
		return true
	}
	e.log.Warn("diagnostics request with a reply outside the venue's namespace ignored", "reply", m.Reply)
	return false
}

// LogsAnswer is the edge's answer to a logs request.
type LogsAnswer struct {
	Lines []LogLine `json:"lines"`
	Next  uint64    `json:"next"`
}

func (e *Edge) onLogs(m *nats.Msg) {
	if !e.fromCloud(m) {
		return
	}
	var req LogsRequest
	_ = json.Unmarshal(m.Data, &req)
	if req.Since <= 0 {
		req.Since = 10 * time.Minute
	}
	if req.Limit <= 0 || req.Limit > 1000 {
		req.Limit = 1000
	}
	var ans LogsAnswer
	if e.logs != nil {
		ans.Lines, ans.Next = e.logs.Since(req.Since, req.After, req.Limit)
	}
	raw, _ := json.Marshal(ans)
	_ = m.Respond(raw)
}
