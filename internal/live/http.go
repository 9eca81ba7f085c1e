package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

// postWait is how long an HTTP poster waits for moderation.
const postWait = 10 * time.Second

// Routes serves the live API and MQTT over WebSocket. Token minting and
// room administration take API keys (auth); posting takes a viewer token;
// reading takes either, or nothing when anonymous reading is on.
func (s *Service) Routes(mux *api.Mux, auth func(http.Handler) http.Handler) {
	mux.Handle("POST /v1/live/tokens", auth(api.HandlerFunc(s.handleToken)))
	mux.Handle("POST /v1/live/revocations", auth(api.HandlerFunc(s.handleRevoke)))
	mux.Handle("POST /v1/live/{room}/comments", api.HandlerFunc(s.handlePost))
	mux.Handle("GET /v1/live/{room}/comments", api.HandlerFunc(s.handleHistory))
	mux.Handle("GET /v1/live/{room}", api.HandlerFunc(s.handleRoom))
	mux.Handle("PUT /v1/live/{room}", auth(api.HandlerFunc(s.handleSetRoom)))
	mux.Handle("GET /v1/live/{room}/pinned", api.HandlerFunc(s.handleGetPin))
	mux.Handle("PUT /v1/live/{room}/pinned", auth(api.HandlerFunc(s.handlePin)))
	mux.Handle("DELETE /v1/live/{room}/pinned", auth(api.HandlerFunc(s.handlePin)))
	mux.Handle("GET /mqtt", http.HandlerFunc(s.handleWebSocket))
	mux.Handle("GET /live/{room}", api.HandlerFunc(s.handleViewerPage))
}

func (s *Service) handleToken(w http.ResponseWriter, r *http.Request) error {
	p, _ := api.PrincipalFrom(r.Context())
	if !p.Admin() && !s.cfg.HasRole(p.Client, RoleIssuer) {
		return api.Forbidden(fmt.Sprintf("client %q needs the %s role to issue viewer tokens", p.Client, RoleIssuer))
	}
	var body struct {
		User string `json:"user"`
		Name string `json:"name"`
	}
	if err := api.DecodeJSON(r, 4096, &body); err != nil {
		return err
	}
	if err := checkViewer(body.User, body.Name); err != nil {
		return api.BadRequest(err.Error())
	}
	tok, exp := s.tokens.issue(body.User, body.Name, time.Now())
	api.WriteJSON(w, http.StatusCreated, map[string]any{"token": tok, "expires": exp.UTC(), "user": body.User, "name": body.Name})
	return nil
}

// viewerOf checks a viewer token: signature, expiry, and that its user
// was not revoked since it was issued.
func (s *Service) viewerOf(tok string) (Viewer, error) {
	v, err := s.tokens.verify(tok, time.Now())
	if err != nil {
		return Viewer{}, err
	}
	if s.revoked.ended(v) {
		return Viewer{}, errRevokedToken
	}
	return v, nil
}

var errRevokedToken = errors.New("the viewer token's user was revoked after it was issued")

// handleRevoke revokes a viewer-token user: the tokens issued to them
// until now are refused everywhere, and their open MQTT connections on
// every process are closed (within a second). New tokens may be issued
// afterwards.
func (s *Service) handleRevoke(w http.ResponseWriter, r *http.Request) error {
	p, _ := api.PrincipalFrom(r.Context())
	if !p.Admin() && !s.cfg.HasRole(p.Client, RoleIssuer) {
		return api.Forbidden(fmt.Sprintf("client %q needs the %s role to revoke viewers", p.Client, RoleIssuer))
	}
	var body struct {
		User string `json:"user"`
	}
	if err := api.DecodeJSON(r, 4096, &body); err != nil {
		return err
	}
	if err := checkViewer(body.User, "x"); err != nil {
		p := api.BadRequest(err.Error())
		p.Errors = []api.FieldError{{Pointer: "/user", Message: "1 to 64 letters, digits, '-', '_' or '~'"}}
		return p
	}
	at, err := s.revoked.revoke(r.Context(), body.User, time.Now())
	if err != nil {
		return api.Unavailable("the revocation could not be stored; try again")
	}
	api.WriteJSON(w, http.StatusCreated, map[string]any{
		"user": body.User, "revoked_at": at.UTC(), "until": at.Add(s.cfg.Live.TokenTTL.D()).UTC(),
	})
	return nil
}

// room returns the path's room, or 404.
func (s *Service) room(r *http.Request) (string, error) {
	room := r.PathValue("room")
	if !s.hasRoom(room) {
		return "", api.NotFound(fmt.Sprintf("no room %q", room))
	}
	return room, nil
}

func (s *Service) handlePost(w http.ResponseWriter, r *http.Request) error {
	tok := api.BearerToken(r)
	if !strings.HasPrefix(tok, tokenPrefix) {
		return api.Unauthorized("post with a viewer token: 'Authorization: Bearer lvt_...' (from POST /v1/live/tokens)")
	}
	v, err := s.viewerOf(tok)
	if err != nil {
		return api.Unauthorized(err.Error())
	}
	room, err := s.room(r)
	if err != nil {
		return err
	}
	body, err := api.ReadBody(r, int64(s.cfg.Live.MaxPacket))
	if err != nil {
		return err
	}
	if t := strings.TrimSpace(string(body)); !strings.HasPrefix(t, "{") {
		return api.BadRequest(`send {"text": "..."} with Content-Type: application/json`)
	}
	if _, err := decodeComment(body); err != nil {
		var je *api.JSONError
		if errors.As(err, &je) {
			return api.MalformedJSON(je)
		}
		p := api.BadRequest(err.Error())
		p.Errors = []api.FieldError{{Pointer: "/text", Message: "required, a string"}}
		return p
	}
	s.m.posts.WithLabelValues("http").Inc()
	if name, wait, ok := s.allowPost(v, room, "", nil); !ok {
		s.m.rejected.WithLabelValues("limited").Inc()
		return limitedPost(w, name, wait)
	}
	key, reply, ch := s.replies.expect()
	if err := s.post(v, room, body, reply, nil); err != nil {
		s.replies.wait(canceled, key, ch)
		return api.Unavailable(err.Error())
	}
	ctx, cancel := context.WithTimeout(r.Context(), postWait)
	defer cancel()
	o, err := s.replies.wait(ctx, key, ch)
	if err != nil {
		return api.Unavailable("moderation did not answer in time; the comment may still appear")
	}
	if o.Rejected != nil {
		p := api.NewProblem(http.StatusUnprocessableEntity, "comment-rejected", "Comment rejected", o.Rejected.Detail)
		p.Extra = map[string]any{"reason": o.Rejected.Reason, "id": o.Rejected.ID}
		return p
	}
	api.WriteJSON(w, http.StatusCreated, o.Comment)
	return nil
}

// canceled is a context that is already done, for dropping a waiter.
var canceled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// reader checks who reads: a viewer token, an API key, or nobody when
// anonymous reading is on.
func (s *Service) reader(r *http.Request) error {
	tok := api.BearerToken(r)
	switch {
	case tok == "" && s.cfg.Live.AnonymousRead:
		return nil
	case tok == "":
		return api.Unauthorized("send a viewer token or an API key as 'Authorization: Bearer ...'")
	case strings.HasPrefix(tok, tokenPrefix):
		if _, err := s.viewerOf(tok); err != nil {
			return api.Unauthorized(err.Error())
		}
		return nil
	}
	if _, err := s.keys.Lookup(tok); err != nil {
		return api.Unauthorized("the API key is unknown or revoked")
	}
	return nil
}

func (s *Service) handleHistory(w http.ResponseWriter, r *http.Request) error {
	if err := s.reader(r); err != nil {
		return err
	}
	room, err := s.room(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	after := q.Get("after")
	if len(after) > 64 || strings.ContainsAny(after, `"\`) {
		return api.BadRequest("after must be a comment id")
	}
	limit := min(100, s.cfg.Live.History)
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > s.cfg.Live.History {
			return api.BadRequest(fmt.Sprintf("limit must be between 1 and %d", s.cfg.Live.History))
		}
		limit = n
	}
	page, err := s.history(r.Context(), room, after, limit)
	if err != nil {
		return api.Unavailable(err.Error())
	}
	api.WriteJSON(w, http.StatusOK, page)
	return nil
}

func (s *Service) handleRoom(w http.ResponseWriter, r *http.Request) error {
	if err := s.reader(r); err != nil {
		return err
	}
	room, err := s.room(r)
	if err != nil {
		return err
	}
	st := s.board.stats(room)
	st.State = s.rooms.get(room)
	api.WriteJSON(w, http.StatusOK, st)
	return nil
}

// handleGetPin answers the room's pinned message (null when none), to
// whoever may read the room: viewers get it retained over MQTT anyway.
func (s *Service) handleGetPin(w http.ResponseWriter, r *http.Request) error {
	if err := s.reader(r); err != nil {
		return err
	}
	room, err := s.room(r)
	if err != nil {
		return err
	}
	var pinned json.RawMessage
	for _, m := range s.retained.match(pinnedTopic(room)) {
		if m.Topic == pinnedTopic(room) && len(m.Payload) > 0 {
			pinned = m.Payload
		}
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"room": room, "pinned": pinned})
	return nil
}

func (s *Service) requireModerator(r *http.Request) error {
	p, _ := api.PrincipalFrom(r.Context())
	if p.Client != config.AdminClient && !s.cfg.HasRole(p.Client, RoleModerator) {
		return api.Forbidden(fmt.Sprintf("client %q needs the %s role", p.Client, RoleModerator))
	}
	return nil
}

func (s *Service) handleSetRoom(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireModerator(r); err != nil {
		return err
	}
	room, err := s.room(r)
	if err != nil {
		return err
	}
	var st RoomState
	if err := api.DecodeJSON(r, 4096, &st); err != nil {
		return err
	}
	if st, err = parseRoomState(st); err != nil {
		return api.BadRequest(err.Error())
	}
	st.Updated = time.Now().UTC()
	if err := s.rooms.set(r.Context(), room, st); err != nil {
		return api.Unavailable(err.Error())
	}
	api.WriteJSON(w, http.StatusOK, st)
	return nil
}

func (s *Service) handlePin(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireModerator(r); err != nil {
		return err
	}
	room, err := s.room(r)
	if err != nil {
		return err
	}
	var payload []byte
	if r.Method == http.MethodPut {
		if payload, err = api.ReadBody(r, int64(s.cfg.Live.MaxPacket)); err != nil {
			return err
		}
		if err := api.CheckJSON(payload); err != nil {
			return api.MalformedJSON(err)
		}
	}
	if err := s.pin(r.Context(), room, payload); err != nil {
		return api.Unavailable(err.Error())
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// limitedPost is the 429 of a post a runtime limit refused.
func limitedPost(w http.ResponseWriter, limit string, wait time.Duration) error {
	secs := max(int(math.Ceil(wait.Seconds())), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	p := api.NewProblem(http.StatusTooManyRequests, "rate-limited", "Too many requests",
		fmt.Sprintf("limit %q refused this comment; retry after %ds", limit, secs))
	p.Extra = map[string]any{"limit": limit, "retry_after": secs}
	return p
}
