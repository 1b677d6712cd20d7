// Package server is the agent's local API: HTTP+JSON (and websocket streams)
// on the agent's socket under /v1/. Handlers are thin adapters over the
// core state and the commands package.
package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/audit"
	"github.com/rack-gateway/rack-gateway/agent/commands"
	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/config"
	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/agent/crash"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
)

// Server serves the local API on one listener.
type Server struct {
	Core   *core.Core
	Socket string
	Log    *slog.Logger
	// Audit, when set, gets one line per command.
	Audit *audit.Log
	// LogHealth, when set, says whether the agent log is being written;
	// with the audit log's, it is shown once on the next command's stderr
	// and in the status.
	LogHealth *audit.Health
	// Commands is every command, built once at start.
	Commands *kit.Registry

	http       *http.Server
	mux        *http.ServeMux
	defaultDir string
	stopOnce   sync.Once
	stop       chan struct{}
	runs       sync.WaitGroup
	// runsMu orders runs.Add against Shutdown's Wait; closing refuses
	// runs once Shutdown began (WaitGroup forbids an Add from zero while
	// a Wait is in progress).
	runsMu  sync.Mutex
	closing bool
	// active counts the commands running (ipc.HeaderRunning).
	active atomic.Int32

	lnMu     sync.Mutex
	ln       net.Listener
	lnClosed bool
}

// New returns a server; call Serve.
func New(c *core.Core, socket string, log *slog.Logger) *Server {
	s := &Server{Core: c, Socket: socket, Log: log, stop: make(chan struct{}), Commands: commands.Registry()}
	s.defaultDir, _ = core.DefaultConfigDir()
	mux := http.NewServeMux()
	s.mux = mux
	mux.HandleFunc("GET "+ipc.PathRun, s.handleRun)
	mux.HandleFunc("POST "+ipc.PathRun, s.handleRun)
	mux.HandleFunc("GET "+ipc.PathStatus, s.handleStatus)
	mux.HandleFunc("POST "+ipc.PathShutdown, s.handleShutdown)
	mux.HandleFunc("GET "+ipc.PathEvents, s.handleEvents)
	mux.HandleFunc("POST "+ipc.PathPrompts+"{id}", s.handleAnswer)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, ipc.Errorf(ipc.CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	s.http = &http.Server{
		Handler:           s.recoverPanics(s.guard(mux)),
		ReadHeaderTimeout: DefaultTimeouts.Header,
		ReadTimeout:       DefaultTimeouts.Request,
		IdleTimeout:       DefaultTimeouts.Idle,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if pc, ok := c.(*transport.Conn); ok {
				return context.WithValue(ctx, peerKey{}, pc.Peer)
			}
			return ctx
		},
		// What net/http reports here (a panic it caught, a response
		// written twice) is a bug or a failing socket: never debug noise.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s
}

// Timeouts bound how long a client may take to send a request, so that
// slow or stalled clients cannot pile up in the agent (docs/local-api.md,
// "Limits and timeouts"). A websocket is free of them once upgraded.
type Timeouts struct {
	Header  time.Duration // the request line and headers
	Request time.Duration // the whole request, body included
	Idle    time.Duration // a kept-alive connection between requests
}

// DefaultTimeouts are the daemon's. Every request body the API takes is a
// few bytes long, so seconds are plenty.
var DefaultTimeouts = Timeouts{Header: 5 * time.Second, Request: 10 * time.Second, Idle: time.Minute}

// SetTimeouts replaces the timeouts; call it before Serve. A zero field
// keeps its current value.
func (s *Server) SetTimeouts(t Timeouts) {
	if t.Header > 0 {
		s.http.ReadHeaderTimeout = t.Header
	}
	if t.Request > 0 {
		s.http.ReadTimeout = t.Request
	}
	if t.Idle > 0 {
		s.http.IdleTimeout = t.Idle
	}
}

type peerKey struct{}

// peerOf returns the connection's peer credentials, if known.
func peerOf(r *http.Request) (transport.PeerCred, bool) {
	p, ok := r.Context().Value(peerKey{}).(transport.PeerCred)
	return p, ok
}

// guard applies the rules every request obeys: the peer must be this user,
// browsers are refused, and every response says who answered.
func (s *Server) guard(next http.Handler) http.Handler {
	uid := os.Getuid()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.setAgentHeaders(w.Header())
		// The listener already refuses other uids; this is the second
		// lock on the same door, for listeners that carry no credentials.
		if p, ok := peerOf(r); !ok || (uid >= 0 && p.UID != uid) {
			writeError(w, http.StatusForbidden, ipc.Errorf(ipc.CodeForbidden, "connection refused: not the agent's user"))
			return
		}
		// A browser can be tricked into talking to local sockets through
		// proxies; nothing legitimate here sends these headers.
		if r.Header.Get("Origin") != "" || r.Header.Get("Referer") != "" {
			writeError(w, http.StatusForbidden, ipc.Errorf(ipc.CodeForbidden, "browser requests are not allowed"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Serve serves until Stop; it returns nil after a clean stop.
func (s *Server) Serve(ln net.Listener) error {
	s.lnMu.Lock()
	s.ln = ln
	closed := s.lnClosed
	s.lnMu.Unlock()
	if closed {
		_ = ln.Close()
	}
	err := s.http.Serve(ln)
	s.lnMu.Lock()
	stopped := s.lnClosed
	s.lnMu.Unlock()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	if stopped {
		// A stop closed the listener on purpose (stopAccepting): that is
		// a clean stop, not a failure to serve. Its Stop comes once the
		// stopping command is answered; returning before it would let a
		// caller waiting on Serve and Stopping take this for a failure.
		<-s.stop
		return nil
	}
	return err
}

// stopAccepting closes the listener at once, before a stopping agent
// answers the command that stopped it: a command started right after
// "agent stop" must find no agent (and start a new one), not reach this
// one while it shuts down and lose its handshake.
func (s *Server) stopAccepting() {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.lnClosed {
		return
	}
	s.lnClosed = true
	if s.ln != nil {
		_ = s.ln.Close()
	}
}

// Stop asks the server to stop; Done is closed when it has.
func (s *Server) Stop() { s.stopOnce.Do(func() { close(s.stop) }) }

// Stopping is closed when a stop was requested.
func (s *Server) Stopping() <-chan struct{} { return s.stop }

// Shutdown stops accepting, then waits (bounded by ctx) for running
// commands to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	s.runsMu.Lock()
	s.closing = true
	s.runsMu.Unlock()
	done := make(chan struct{})
	crash.Go("shutdown wait", func() { s.runs.Wait(); close(done) })
	select {
	case <-done:
	case <-ctx.Done():
	}
	return err
}

// beginRun counts a run for Shutdown to wait on, unless it has begun.
func (s *Server) beginRun() bool {
	s.runsMu.Lock()
	defer s.runsMu.Unlock()
	if s.closing {
		return false
	}
	s.runs.Add(1)
	return true
}

func (s *Server) handleShutdown(w http.ResponseWriter, r *http.Request) {
	s.stopAccepting()
	writeJSON(w, http.StatusOK, map[string]any{"stopping": true, "pid": os.Getpid()})
	s.Log.Info("shutdown requested over the API")
	s.Stop()
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	st := ipc.Status{
		Version: s.Core.Version, Capability: ipc.Capability, PID: os.Getpid(),
		StartedAt: s.Core.Started, Socket: s.Socket, Racks: []ipc.RackStatus{},
		LogError: s.LogHealth.Err(), AuditError: s.Audit.Health().Err(),
		Goroutines: runtime.NumGoroutine(),
	}
	profiles := s.Core.Profiles()
	// Include the default config even before any command used it, but only
	// if it exists: a status read must not create files. Once loaded it is
	// among the profiles and costs no syscall here.
	if s.defaultDir != "" && !hasProfile(profiles, s.defaultDir) {
		if _, err := os.Stat(filepath.Join(s.defaultDir, config.FileName)); err == nil {
			if p, err := s.Core.Profile(s.defaultDir); err == nil {
				profiles = append(profiles, p)
			}
		}
	}
	sort.Slice(profiles, func(i, j int) bool { return profiles[i].Dir < profiles[j].Dir })
	pending := s.Core.Prompts.List()
	st.Prompts = []ipc.PromptStatus{}
	for _, pp := range pending {
		st.Prompts = append(st.Prompts, promptStatus(pp))
	}
	now := time.Now()
	for _, p := range profiles {
		if st.SecretStore == "" {
			st.SecretStore = p.StoreDescription()
		}
		cfg := p.Config()
		for _, name := range cfg.Names() {
			g := cfg.Gateways[name]
			rs := ipc.RackStatus{Name: name, URL: g.URL, Current: name == cfg.Current, ConfigDir: p.Dir, Prompts: []ipc.PromptStatus{}}
			if p.HasToken(name) {
				key := core.SessionKey(p.Dir, name)
				rs.LoggedIn = true
				rs.Email = g.Email
				rs.ExpiresAt = g.ExpiresAt
				rs.Role = s.Core.Role(key)
				if w := s.Core.MFA.Window(key); w.ExpiresAt.After(now) {
					exp := w.ExpiresAt
					rs.Window = ipc.WindowStatus{Active: true, ExpiresAt: &exp, RemainingS: int(exp.Sub(now).Seconds())}
				}
			}
			for _, pp := range pending {
				if pp.Rack == name {
					rs.Prompts = append(rs.Prompts, promptStatus(pp))
				}
			}
			st.Racks = append(st.Racks, rs)
		}
	}
	writeJSON(w, http.StatusOK, st)
}

func hasProfile(ps []*core.Profile, dir string) bool {
	for _, p := range ps {
		if p.Dir == dir {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, e *ipc.Error) {
	writeJSON(w, status, ipc.ErrorBody{Error: e})
}

// RejectPeer is the listener's OnReject hook: it tells a process of another
// user, in plain HTTP, why its connection is closed.
//
// It reads the request head before answering and drains what follows
// before closing: a request still arriving at a closed socket fails the
// client's write (a broken pipe), and unread data turns the close into a
// reset, and either way the client may never see the refusal.
func RejectPeer(log *slog.Logger) func(net.Conn, transport.PeerCred) {
	return func(c net.Conn, p transport.PeerCred) {
		log.Warn("refused connection from another user", "uid", p.UID, "pid", p.PID)
		_ = c.SetDeadline(time.Now().Add(rejectWait))
		readHead(c, maxHeaderBytes)
		body := fmt.Sprintf(`{"error":{"code":%q,"message":"connection refused: uid %d is not the agent's owner"}}`+"\n", ipc.CodeForbidden, p.UID)
		if _, err := fmt.Fprintf(c, "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body); err != nil {
			return
		}
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		// Until the client hangs up, or the deadline.
		_, _ = io.Copy(io.Discard, io.LimitReader(c, maxHeaderBytes))
	}
}

// rejectWait bounds a refusal, reading and answering together.
const rejectWait = time.Second

// readHead reads from c until the end of an HTTP request head (an empty
// line), max bytes, an error or the deadline, whichever comes first.
func readHead(c net.Conn, max int) {
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 4096)
	for len(buf) < max {
		n, err := c.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if bytes.Contains(buf, []byte("\r\n\r\n")) || err != nil {
			return
		}
	}
}

func promptStatus(p core.PendingPrompt) ipc.PromptStatus {
	return ipc.PromptStatus{ID: p.ID, Rack: p.Rack, Command: p.Command, Text: p.Text, Secret: p.Secret,
		Reason: p.Reason, PID: p.PID, TTY: p.TTY, CreatedAt: p.Created}
}
