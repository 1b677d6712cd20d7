package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/agent/crash"
	"github.com/rack-gateway/rack-gateway/agent/events"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// Read limits of the local API (docs/local-api.md, "Limits and timeouts").
const (
	maxEventsMessage = 4 << 10  // what an events subscriber may send in one message
	maxAnswerBody    = 64 << 10 // POST /v1/prompts/{id}
	maxHeaderBytes   = 64 << 10 // a request's line and headers
)

// handleEvents streams events as JSON text messages on a websocket.
// ?types=a,b filters; an unknown type is a 400 before the upgrade.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	var types []string
	if q := r.URL.Query().Get("types"); q != "" {
		for _, t := range strings.Split(q, ",") {
			t = strings.TrimSpace(t)
			if !events.Valid(t) {
				writeError(w, http.StatusBadRequest, ipc.Errorf(ipc.CodeBadRequest, "unknown event type %q", t).
					WithHint("Known types: %s", strings.Join(events.Types, ", ")))
				return
			}
			types = append(types, t)
		}
	}
	if !websocket.IsWebSocketUpgrade(r) {
		writeError(w, http.StatusBadRequest, ipc.Errorf(ipc.CodeBadRequest, "%s needs a websocket upgrade", ipc.PathEvents))
		return
	}
	// Subscribe before upgrading so nothing published after the client's
	// request is missed.
	sub := s.Core.Events.Subscribe(types)
	defer s.Core.Events.Unsubscribe(sub)
	h := http.Header{}
	s.setAgentHeaders(h) // the upgrader writes its own response
	conn, err := upgrader.Upgrade(w, r, h)
	if err != nil {
		return
	}
	defer conn.Close()
	// Subscribers only send control frames (pong, close); anything bigger
	// is not an events client, and must not grow the agent's memory.
	conn.SetReadLimit(maxEventsMessage)
	gone := make(chan struct{})
	crash.Go("events reader", func() {
		// Reading keeps control frames flowing and notices a close.
		defer close(gone)
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	})
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	for {
		select {
		case e, ok := <-sub.C:
			if !ok {
				_ = conn.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "too slow: events dropped; reconnect and re-read /v1/status"),
					time.Now().Add(time.Second))
				return
			}
			_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := conn.WriteJSON(e); err != nil {
				return
			}
		case <-ping.C:
			_ = conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second))
		case <-gone:
			return
		case <-s.stop:
			_ = conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseGoingAway, "agent stopping"), time.Now().Add(time.Second))
			return
		}
	}
}

// handleAnswer answers a pending prompt: POST /v1/prompts/{id} with
// {"value": "..."}.
func (s *Server) handleAnswer(w http.ResponseWriter, r *http.Request) {
	var body ipc.PromptAnswer
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAnswerBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Value == nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, ipc.Errorf(ipc.CodeBadRequest,
				"the body is over the %s an answer may have", ipc.FormatBytes(maxAnswerBody)))
			return
		}
		msg := "the body must be JSON like {\"value\": \"123456\"}"
		if err != nil {
			msg += ": " + err.Error()
		}
		writeError(w, http.StatusBadRequest, ipc.Errorf(ipc.CodeBadRequest, "%s", msg))
		return
	}
	id := r.PathValue("id")
	if _, err := s.Core.Prompts.Answer(id, *body.Value); err != nil {
		if errors.Is(err, core.ErrNoPrompt) {
			writeError(w, http.StatusNotFound, ipc.Errorf(ipc.CodeNotFound, "no pending prompt %q: it was answered, withdrawn or never existed", id).
				WithHint("GET %s lists pending prompts.", ipc.PathStatus))
			return
		}
		writeError(w, http.StatusInternalServerError, ipc.Errorf(ipc.CodeInternal, "%v", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"answered": id})
}
