package sandbox

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Injected faults let client tests see what a load balancer or a flaky
// network between them and the gateway does: an error answer instead of
// the gateway's, or no answer at all. The interesting case is the one a
// client cannot tell apart from a plain failure: the gateway did the work
// (an MFA attempt row, a consumed TOTP step, an opened step-up window) and
// the client never learned of it.

// Fault makes the next Count requests with exactly this method and URL
// path (the query is ignored) fail. Set either Status or Drop.
type Fault struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// Status (200–599) replaces the answer: {"error":"<status text>"} on
	// the gateway's JSON API, the status text as plain text elsewhere (the
	// rack proxy, /app pages, /oauth). For 502 that is "bad gateway".
	Status int `json:"status"`
	// Drop closes the connection without any answer. A drop always
	// happens after the request was processed.
	Drop bool `json:"drop"`
	// Count is how many matching requests fail; 0 means 1. Faults list
	// what is left.
	Count int `json:"count"`
	// After processes the request first, so all its effects happen, and
	// only replaces the answer; otherwise the request never reaches the
	// gateway. WebSocket upgrades cannot be processed this way: the
	// upgrade fails inside the sandbox, so no stream runs.
	After bool `json:"after"`
	// DelayMS holds the request this long (or until the client goes
	// away) before anything else happens. With neither Status nor Drop
	// the request is then served normally: a stalled gateway, which
	// gives a test time to kill the client mid-request.
	DelayMS int `json:"delay_ms,omitempty"`
	// Body, when set, is sent verbatim instead of the default body: an
	// HTML error page, a huge or hostile message. Its Content-Type is
	// ContentType, else application/json for valid JSON, else text/plain.
	Body        string `json:"body,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	// RetryAfter, when set, is sent as the Retry-After header (seconds or
	// an HTTP date), as the real server's rate limiter does with 429.
	RetryAfter string `json:"retry_after,omitempty"`
}

func (f *Fault) normalize() error {
	f.Method = strings.ToUpper(strings.TrimSpace(f.Method))
	f.Path = strings.TrimSpace(f.Path)
	switch {
	case f.Method == "":
		return errors.New("method is required")
	case !strings.HasPrefix(f.Path, "/"):
		return errors.New("path must start with /")
	case strings.HasPrefix(f.Path, introspectPrefix):
		return errors.New("sandbox endpoints cannot be faulted")
	case f.Drop && f.Status != 0:
		return errors.New("give status or drop, not both")
	case f.DelayMS < 0 || f.DelayMS > 60000:
		return errors.New("delay_ms must be 0-60000")
	case !f.Drop && f.DelayMS == 0 && (f.Status < 200 || f.Status > 599):
		return errors.New("status must be 200-599, or set drop")
	case f.Status != 0 && (f.Status < 200 || f.Status > 599):
		return errors.New("status must be 200-599")
	case f.Count < 0:
		return errors.New("count must not be negative")
	case f.Status == 0 && (f.Body != "" || f.ContentType != "" || f.RetryAfter != ""):
		return errors.New("body, content_type and retry_after need a status")
	}
	if f.Count == 0 {
		f.Count = 1
	}
	if f.Drop {
		f.After = true
	}
	return nil
}

// InjectFault arms f behind any faults armed before it: a request takes
// the oldest armed fault that matches it.
func (s *Server) InjectFault(f Fault) error {
	if err := f.normalize(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
	return nil
}

// Faults lists the armed faults, oldest first, with the counts left.
func (s *Server) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		out = append(out, *f)
	}
	return out
}

// ClearFaults disarms every fault and returns how many there were.
func (s *Server) ClearFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.faults)
	s.faults = nil
	return n
}

// takeFault uses up one request of the oldest fault matching r. Taking it
// under the lock means concurrent requests never share a single count.
func (s *Server) takeFault(r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Method != r.Method || f.Path != r.URL.Path {
			continue
		}
		taken := *f
		if f.Count--; f.Count == 0 {
			s.faults = slices.Delete(s.faults, i, i+1)
		}
		return &taken
	}
	return nil
}

// serveFault answers r as f says. w is the connection's own writer, which
// a drop hijacks; rec wraps it for the answer so the status is logged.
func (s *Server) serveFault(w http.ResponseWriter, rec *statusRecorder, r *http.Request, f *Fault) {
	if f.DelayMS > 0 {
		sleepContext(r.Context(), time.Duration(f.DelayMS)*time.Millisecond)
		if !f.Drop && f.Status == 0 {
			s.handler.ServeHTTP(rec, r)
			return
		}
	}
	if f.After {
		s.handler.ServeHTTP(&discardWriter{header: http.Header{}}, r)
	}
	if f.Drop {
		s.logger.Printf("%s %s dropped (injected fault)", r.Method, r.URL.Path)
		dropConnection(w)
		return
	}
	if f.RetryAfter != "" {
		rec.Header().Set("Retry-After", f.RetryAfter)
	}
	msg := strings.ToLower(http.StatusText(f.Status))
	if msg == "" {
		msg = "error"
	}
	switch {
	case f.Body != "":
		ct := f.ContentType
		if ct == "" {
			ct = "text/plain; charset=utf-8"
			if json.Valid([]byte(f.Body)) {
				ct = "application/json"
			}
		}
		rec.Header().Set("Content-Type", ct)
		rec.WriteHeader(f.Status)
		_, _ = io.WriteString(rec, f.Body)
	case isNativeAPIPath(r.URL.Path):
		writeError(rec, f.Status, msg)
	default:
		writeText(rec, f.Status, msg)
	}
	s.logger.Printf("%s %s %d (injected fault)", r.Method, r.URL.Path, rec.status)
}

// isNativeAPIPath reports whether path belongs to the gateway's JSON API,
// where clients expect {"error":…} bodies; the rack proxy answers text.
func isNativeAPIPath(path string) bool {
	inProxy := path == proxyPrefix || strings.HasPrefix(path, proxyPrefix+"/")
	return strings.HasPrefix(path, "/api/") && !inProxy
}

// dropConnection closes the client's connection without writing a byte.
// Where the connection cannot be taken over (HTTP/2, or a ResponseRecorder
// in an in-process test) it aborts the handler the way net/http documents:
// the server then resets the stream or closes the connection, and a
// direct caller of ServeHTTP sees the http.ErrAbortHandler panic.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// discardWriter takes the answer of a request processed under an "after"
// fault. It is deliberately not a Hijacker, so nothing can take over the
// connection the fault still has to answer on.
type discardWriter struct {
	header http.Header
}

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// serveFaultsKnob is GET/POST/DELETE /_sandbox/faults.
func (s *Server) serveFaultsKnob(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"faults": s.Faults()})
	case http.MethodPost:
		f, err := decodeFault(r)
		if err == nil {
			err = s.InjectFault(f)
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid fault: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "armed", "faults": s.Faults()})
	case http.MethodDelete:
		writeJSON(w, http.StatusOK, map[string]any{"status": "cleared", "cleared": s.ClearFaults()})
	default:
		notFound(w)
	}
}

// decodeFault reads a POST body strictly: a misspelt field would otherwise
// arm a different fault than the test meant, silently.
func decodeFault(r *http.Request) (Fault, error) {
	var body struct {
		Fault
		After *bool `json:"after"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return Fault{}, err
	}
	f := body.Fault
	if body.After != nil {
		if body.Drop && !*body.After {
			return Fault{}, errors.New("a drop always happens after processing; omit after")
		}
		f.After = *body.After
	}
	return f, nil
}
