package live

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nuid"

	"github.com/stadion-dev/stadion/internal/api"
)

// post is a comment waiting for moderation, as queued in LIVE_POSTS.
type post struct {
	ID    string    `json:"id"`
	Room  string    `json:"room"`
	User  string    `json:"user"`
	Name  string    `json:"name"`
	Text  string    `json:"text"`
	At    time.Time `json:"at"`
	Reply string    `json:"reply,omitempty"` // where an HTTP poster waits
}

// Comment is an accepted comment, as fanned out and kept in history.
type Comment struct {
	ID   string    `json:"id"`
	Room string    `json:"room"`
	User string    `json:"user"`
	Name string    `json:"name"`
	Text string    `json:"text"`
	Time time.Time `json:"time"`
}

// Rejection tells a poster why a comment was refused.
type Rejection struct {
	ID     string `json:"id"`
	Room   string `json:"room"`
	User   string `json:"user"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
	Text   string `json:"text,omitempty"`
}

// Rejection reasons.
const (
	reasonInvalid   = "invalid"
	reasonEmpty     = "empty"
	reasonTooLong   = "too_long"
	reasonBanned    = "banned_word"
	reasonClosed    = "room_closed"
	reasonSlow      = "slow_mode"
	reasonRate      = "rate_limited"
	reasonDuplicate = "duplicate"
	reasonFlood     = "flood"
)

var errBadComment = errors.New(`a comment is UTF-8 text, or JSON {"text": "..."}`)

// decodeComment reads a posted payload: plain UTF-8 text, or a JSON
// object with a text field. The JSON must be strict (api.CheckJSON): a
// payload naming "text" twice would be read as one comment here and as
// another by a first-wins client, so it is refused with the pointer.
func decodeComment(payload []byte) (string, error) {
	if t := bytes.TrimLeft(payload, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		if err := api.CheckJSON(t); err != nil {
			return "", fmt.Errorf("%w: %w", errBadComment, err)
		}
		var body struct {
			Text *string `json:"text"`
		}
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil || body.Text == nil || dec.More() {
			return "", errBadComment
		}
		return *body.Text, nil
	}
	if !utf8.Valid(payload) {
		return "", errBadComment
	}
	return string(payload), nil
}

// post takes a comment from a viewer into the pipeline. done (MQTT QoS 1)
// is called once the post is stored, or with the reason it could not be.
// Payloads that are not comments are rejected at once. The error is
// errOverloaded when the post could not be queued.
func (s *Service) post(v Viewer, room string, payload []byte, reply string, done func(error)) error {
	p := post{ID: nuid.Next(), Room: room, User: v.User, Name: v.Name, At: time.Now().UTC(), Reply: reply}
	text, err := decodeComment(payload)
	if err != nil {
		s.rejectNow(p, reasonInvalid, err.Error())
		if done != nil {
			done(nil)
		}
		return nil
	}
	p.Text = text
	if !s.ingress.enqueue(p, done) {
		s.m.overloaded.Inc()
		if done != nil {
			done(errOverloaded)
		}
		return errOverloaded
	}
	return nil
}

// rejectNow rejects a post before it reaches the queue.
func (s *Service) rejectNow(p post, reason, detail string) {
	rj := Rejection{ID: p.ID, Room: p.Room, User: p.User, Reason: reason, Detail: detail}
	s.m.rejected.WithLabelValues(reason).Inc()
	s.board.count(p.Room, false, reason)
	s.publishRejection(rj)
	if p.Reply != "" {
		raw, _ := json.Marshal(outcome{Rejected: &rj})
		s.nc.Publish(p.Reply, raw)
	}
}

// publishRejection tells an MQTT poster on live/{room}/rejected/{user}.
func (s *Service) publishRejection(rj Rejection) {
	raw, _ := json.Marshal(rj)
	s.nc.Publish(topicSubject(rejectedTopic(rj.Room, rj.User)), raw)
}

// outcome is what a worker answers an HTTP poster.
type outcome struct {
	Comment  *Comment   `json:"comment,omitempty"`
	Rejected *Rejection `json:"rejected,omitempty"`
}
