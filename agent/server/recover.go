package server

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"

	"github.com/rack-gateway/rack-gateway/ipc"
)

// recoverPanics turns a handler's panic into an error-level line in the
// agent log and a JSON 500, and keeps the agent serving. net/http would
// recover it too, but log it through ErrorLog and answer nothing.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // net/http's way to drop a connection on purpose
			}
			s.logPanic("handler panic", v, "method", r.Method, "path", r.URL.Path)
			if tw.started || tw.hijacked {
				return // too late for a status; the connection ends here
			}
			writeError(w, http.StatusInternalServerError, ipc.Errorf(ipc.CodeInternal,
				"the agent hit a bug answering %s %s: %v", r.Method, r.URL.Path, v).
				WithHint("The agent is still running; the details are in its log (agent.log)."))
		}()
		next.ServeHTTP(tw, r)
	})
}

// logPanic writes a recovered panic, with its stack, at error level.
func (s *Server) logPanic(msg string, v any, attrs ...any) {
	attrs = append(attrs, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	s.Log.Error(msg, attrs...)
}

// panicErr is what a client is told about a command that panicked.
func panicErr(cmd string, v any) *ipc.Error {
	return ipc.Errorf(ipc.CodeInternal, "the agent hit a bug running %q: %v", cmd, v).
		WithHint("The agent is still running; the details are in its log (agent.log).")
}

// trackingWriter notes whether a response was started or the connection
// taken over, so a recovered panic knows whether it can still answer.
type trackingWriter struct {
	http.ResponseWriter
	started, hijacked bool
}

func (w *trackingWriter) WriteHeader(code int) {
	w.started = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(b)
}

// Hijack lets the websocket upgrader take the connection.
func (w *trackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the connection cannot be taken over")
	}
	c, rw, err := h.Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

// Unwrap gives http.ResponseController the real writer.
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
