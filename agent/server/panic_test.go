package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/server"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// logBuffer is an agent log a test can read while the server writes it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// withLog sends the server's log to a buffer, as agent.log would get it.
func withLog(buf *logBuffer) func(*server.Server) {
	return func(s *server.Server) {
		s.Log = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
}

// A handler that panics is answered with a JSON 500 and an error-level
// line in the log, and the agent goes on serving.
func TestHandlerPanicIsLoggedAndAnswered(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	a := startAgent(t, withLog(&logs), func(s *server.Server) {
		s.HandleForTest("GET /v1/test-panic", func(http.ResponseWriter, *http.Request) { panic("boom in a handler") })
	})
	resp, body := a.do(t, http.MethodGet, "/v1/test-panic", "", nil)
	e := apiError(t, resp, body, http.StatusInternalServerError, ipc.CodeInternal)
	if !strings.Contains(e.Message, "boom in a handler") {
		t.Errorf("message %q", e.Message)
	}
	checkAgentHeaders(t, resp)
	log := logs.String()
	if !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "boom in a handler") || !strings.Contains(log, "panic_test.go") {
		t.Errorf("the panic is not in the log at error level with its stack:\n%s", log)
	}
	if resp, body := a.do(t, http.MethodGet, ipc.PathStatus, "", nil); resp.StatusCode != 200 {
		t.Fatalf("after the panic: %d %s", resp.StatusCode, body)
	}
}

// A command that panics ends its run with a typed internal error; the
// agent keeps serving other commands.
func TestCommandPanicEndsTheRunWithATypedError(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	reg := kit.NewRegistry()
	reg.Add(&kit.Command{Name: "boom", Usage: "boom", Short: "panics", MaxArgs: 0,
		Run: func(context.Context, *kit.Ctx) error { panic("boom in a command") }})
	reg.Add(&kit.Command{Name: "fine", Usage: "fine", Short: "works", MaxArgs: 0,
		Run: func(_ context.Context, x *kit.Ctx) error { _, err := x.Out.Write([]byte("ok\n")); return err }})
	a := startAgent(t, withLog(&logs), func(s *server.Server) { s.Commands = reg })
	res := a.run(t, invocation(t, "boom"))
	if res.Exit.Error == nil || res.Exit.Error.Code != ipc.CodeInternal || !strings.Contains(res.Exit.Error.Message, "boom in a command") {
		t.Fatalf("exit %+v", res.Exit)
	}
	if res.Exit.Status != ipc.ExitError {
		t.Errorf("status %d", res.Exit.Status)
	}
	if log := logs.String(); !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "command panic") {
		t.Errorf("the panic is not in the log at error level:\n%s", log)
	}
	if res := a.run(t, invocation(t, "fine")); res.Exit.Error != nil || res.Stdout != "ok\n" {
		t.Fatalf("after the panic: %+v %q", res.Exit, res.Stdout)
	}
}
