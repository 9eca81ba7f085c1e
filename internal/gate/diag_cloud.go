package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/stadion-dev/stadion/internal/api"
)

// ask sends a diagnostics request to venue's edge over the edge's own
// outbound link and waits for its answer.
func (c *Cloud) ask(ctx context.Context, venue, what string, req any) ([]byte, error) {
	inbox := replyPrefix(venue) + nuid.Next()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	body, _ := json.Marshal(req)
	if err := c.nc.PublishRequest(diagSubject(venue, what), inbox, body); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	msg, err := sub.NextMsgWithContext(ctx)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, api.Unavailable(fmt.Sprintf("no edge of venue %s is linked right now; GET /v1/venues/%s shows its last contact", venue, venue))
	}
	if err != nil {
		return nil, api.Unavailable(fmt.Sprintf("the edge of venue %s did not answer within 5s; GET /v1/venues/%s shows its link", venue, venue))
	}
	return msg.Data, nil
}

// edgeStatus is GET /v1/venues/{venue}/status (admin): the edge's own
// account, fetched through its link.
func (c *Cloud) edgeStatus(w http.ResponseWriter, r *http.Request) error {
	if err := api.RequireAdmin(r); err != nil {
		return err
	}
	v, err := c.venueOf(r)
	if err != nil {
		return err
	}
	raw, err := c.ask(r.Context(), v.venue, "status", struct{}{})
	if err != nil {
		return err
	}
	var st EdgeStatus
	if unmarshalStrict(raw, &st) != nil || st.Venue != v.venue {
		c.refuse(v.venue, refusedDiag, "what", "status")
		return api.Unavailable(fmt.Sprintf("the edge of venue %s answered with something that is not its status", v.venue))
	}
	api.WriteJSON(w, http.StatusOK, st)
	return nil
}

// LogsRequest asks an edge for its recent log lines.
type LogsRequest struct {
	Since time.Duration `json:"since"`
	After uint64        `json:"after"`
	Limit int           `json:"limit"`
}

// edgeLogs is GET /v1/venues/{venue}/logs?since=10m&after=SEQ (admin).
func (c *Cloud) edgeLogs(w http.ResponseWriter, r *http.Request) error {
	if err := api.RequireAdmin(r); err != nil {
		return err
	}
	v, err := c.venueOf(r)
	if err != nil {
		return err
	}
	req, err := parseLogsRequest(r)
	if err != nil {
		return err
	}
	raw, err := c.ask(r.Context(), v.venue, "logs", req)
	if err != nil {
		return err
	}
	var ans LogsAnswer
	if unmarshalStrict(raw, &ans) != nil || len(ans.Lines) > req.Limit {
		c.refuse(v.venue, refusedDiag, "what", "logs")
		return api.Unavailable(fmt.Sprintf("the edge of venue %s answered with something that is not its logs", v.venue))
	}
	api.WriteJSON(w, http.StatusOK, ans)
	return nil
}

func parseLogsRequest(r *http.Request) (LogsRequest, error) {
	q := r.URL.Query()
	req := LogsRequest{Since: 10 * time.Minute, Limit: 1000}
	if s := q.Get("since"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return req, api.BadRequest("since: want a duration such as 10m or 1h")
		}
		req.Since = d
	}
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return req, api.BadRequest("after: want a log line number")
		}
		req.After = n
	}
	return req, nil
}
