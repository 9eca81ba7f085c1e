package console

import (
	"encoding/json"
	"math"
	"net/http"

	"github.com/stadion-dev/stadion/internal/api"
)

// Whoami is the answer of GET /v1/console: who signed in, and what the
// page cannot learn from the rest of the API.
type Whoami struct {
	Client string `json:"client"`
	Admin  bool   `json:"admin"`
	// Rooms are the configured live rooms (none when live comments are
	// off; AnyRoom when every room name is allowed).
	Rooms   []string `json:"rooms"`
	AnyRoom bool     `json:"any_room"`
	// Step and History are the series' sampling interval and length in
	// seconds.
	Step    float64 `json:"step"`
	History float64 `json:"history"`
	// Configured names the capabilities this server runs (venues,
	// capture, live), so that the page asks only for routes that exist;
	// whether the key may read them it learns from the API's answers.
	Configured map[string]bool `json:"configured"`
}

func (c *Console) handleWhoami(w http.ResponseWriter, r *http.Request) error {
	p, _ := api.PrincipalFrom(r.Context())
	cfg := c.o.Config
	out := Whoami{
		Client: p.Client, Admin: p.Admin(), Rooms: []string{}, Step: c.o.Interval.Seconds(), History: c.o.History.Seconds(),
		Configured: map[string]bool{"venues": len(cfg.Venues) > 0, "capture": cfg.Capture.Active(), "live": cfg.Live.Enabled()},
	}
	if l := cfg.Live; l.Enabled() {
		out.AnyRoom = l.AnyRoom()
		if !out.AnyRoom {
			out.Rooms = append(out.Rooms, l.Rooms...)
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}

// handleSeries answers the last hour of every series the caller may see.
func (c *Console) handleSeries(w http.ResponseWriter, r *http.Request) error {
	p, _ := api.PrincipalFrom(r.Context())
	page := c.store.page(c.o.Interval, func(s *series) bool { return c.visible(p, s) })
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, http.StatusOK, page)
	return nil
}

// feedLine is one line of GET /v1/console/feed: a sample's time and the
// values of the caller's series (null where the process had none).
type feedLine struct {
	Time   int64               `json:"t"`
	Step   float64             `json:"step,omitempty"`
	Values map[string]*float64 `json:"values"`
}

// handleFeed streams every new sample of the caller's series as a line of
// JSON (application/x-ndjson), so the page needs no key in a URL: it reads
// the body of a fetch that sent the key in the Authorization header. It
// is a long-lived response and counts against exchange.streams_per_client.
func (c *Console) handleFeed(w http.ResponseWriter, r *http.Request) error {
	st, err := c.o.Streams.Open(w, r, "console")
	if err != nil {
		return err
	}
	defer st.Close()
	p, _ := api.PrincipalFrom(r.Context())
	ch := c.subscribe()
	if ch == nil {
		return api.Unavailable("the server is shutting down; reconnect")
	}
	defer c.unsubscribe(ch)
	st.Header().Set("Content-Type", "application/x-ndjson")
	st.Header().Set("Cache-Control", "no-store")
	st.Header().Set("X-Accel-Buffering", "no")
	st.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(st)
	if err := enc.Encode(feedLine{Step: c.o.Interval.Seconds(), Values: map[string]*float64{}}); err != nil {
		return nil
	}
	if st.Flush() != nil {
		return nil
	}
	for {
		select {
		case <-st.Context().Done():
			return nil
		case t, ok := <-ch:
			if !ok {
				return nil
			}
			if enc.Encode(c.line(p, t)) != nil || st.Flush() != nil {
				return nil
			}
		}
	}
}

// line keeps of a sample the series p may see.
func (c *Console) line(p api.Principal, t tick) feedLine {
	out := feedLine{Time: t.at.Unix(), Values: make(map[string]*float64, len(t.values))}
	for id, v := range t.values {
		s := c.store.lookup(id)
		if s == nil || !c.visible(p, s) {
			continue
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			out.Values[id] = nil
			continue
		}
		out.Values[id] = &v
	}
	return out
}
