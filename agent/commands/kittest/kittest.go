// Package kittest runs commands in-process for unit tests: a fake terminal,
// an in-process sandbox gateway (httptest), a private config directory with
// a logged-in session, and a private attempt ledger, so command packages
// can be tested without building binaries. Whatever crosses processes
// (the relay, the socket, ptys) stays in internal/e2e.
package kittest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/config"
	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/agent/ledger"
	"github.com/rack-gateway/rack-gateway/internal/sandbox"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/platform/secrets"
)

// Rack is the name the environment logs in as.
const Rack = "prod"

// Env is one user against one in-process sandbox.
type Env struct {
	T         testing.TB
	Sandbox   *sandbox.Server
	URL       string
	ConfigDir string
	Core      *core.Core
	Registry  *kit.Registry
	// Vars are the caller's environment variables for every Run.
	Vars map[string]string
	// Cwd is the caller's working directory (default: a temporary one).
	Cwd string
}

// New starts a sandbox and a core whose commands come from register, and
// logs email in to it (with an open step-up window when verified). The
// sandbox and every connection end with the test.
func New(t testing.TB, email string, verified bool, register ...func(*kit.Registry)) *Env {
	t.Helper()
	sb := sandbox.New(sandbox.Config{})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	c := core.New("test", nil, func(d string) (secrets.Store, error) {
		return secrets.Open(secrets.Options{Backend: secrets.BackendFile, FileDir: d})
	})
	c.MFA.UseLedger(ledger.Open(t.TempDir()))
	r := kit.NewRegistry()
	for _, reg := range register {
		reg(r)
	}
	e := &Env{T: t, Sandbox: sb, URL: srv.URL, ConfigDir: dir, Core: c, Registry: r, Vars: map[string]string{}, Cwd: t.TempDir()}
	if email != "" {
		e.Login(email, verified)
	}
	return e
}

// Login stores a new session of email as the current rack.
func (e *Env) Login(email string, verified bool) {
	e.T.Helper()
	tok, err := e.Sandbox.IssueSession(email, verified)
	if err != nil {
		e.T.Fatal(err)
	}
	p, err := e.Core.Profile(e.ConfigDir)
	if err != nil {
		e.T.Fatal(err)
	}
	if err := p.SetToken(Rack, tok); err != nil {
		e.T.Fatal(err)
	}
	exp := time.Now().Add(90 * 24 * time.Hour)
	err = p.Update(func(c *config.Config) error {
		c.Gateways[Rack] = &config.Gateway{URL: e.URL, Email: email, ExpiresAt: &exp}
		c.Current = Rack
		return nil
	})
	if err != nil {
		e.T.Fatal(err)
	}
	e.Core.MFA.Forget(core.SessionKey(e.ConfigDir, Rack))
}

// Result is one in-process run.
type Result struct {
	Out, Err string
	kit.Result
	Error *ipc.Error // nil on success
	// Prompts are the prompt texts the command asked, in order.
	Prompts []string
}

// Code is the exit status the CLI would report.
func (r Result) Code() int {
	if r.Error != nil {
		return ipc.ExitStatus(r.Error.Code)
	}
	return r.Status
}

func (r Result) String() string {
	s := "stdout:\n" + r.Out + "stderr:\n" + r.Err
	if r.Error != nil {
		s += "error: " + r.Error.Code + ": " + r.Error.Message
	}
	return s
}

// Run runs one command line with no terminal (prompts fail at once).
func (e *Env) Run(argv ...string) Result { return e.RunWith(&Term{}, argv...) }

// RunWith runs one command line on term.
func (e *Env) RunWith(term *Term, argv ...string) Result {
	e.T.Helper()
	env := map[string]string{"GATEWAY_CLI_CONFIG_DIR": e.ConfigDir}
	for k, v := range e.Vars {
		env[k] = v
	}
	inv := &ipc.Invocation{Argv: argv, Cwd: e.Cwd, Env: env, PID: 1, Version: "test",
		TTY: term.TTYs, CanPrompt: len(term.Answers) > 0 || term.Interactive}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := kit.Run(ctx, &kit.Env{Core: e.Core, Mode: kit.ModeExec, Registry: e.Registry}, inv, term)
	out := Result{Out: term.out.String(), Err: term.err.String(), Result: res, Prompts: term.asked}
	if err != nil {
		out.Error = ipc.AsError(err)
	}
	return out
}

// MustRun runs argv and fails the test unless it succeeds.
func (e *Env) MustRun(argv ...string) Result {
	e.T.Helper()
	r := e.Run(argv...)
	if r.Error != nil || r.Status != 0 {
		e.T.Fatalf("%s: %s", strings.Join(argv, " "), r)
	}
	return r
}

// Term is a fake terminal. Answers are handed to prompts in order; a
// prompt with no answer left fails as an interrupted one would.
type Term struct {
	In          io.Reader
	TTYs        ipc.TTYState
	Answers     []string
	Interactive bool // CanPrompt even with no answers (to test refusals)

	mu       sync.Mutex
	out, err bytes.Buffer
	asked    []string
}

// Stdin implements term.Terminal.
func (t *Term) Stdin() io.Reader {
	if t.In == nil {
		return strings.NewReader("")
	}
	return t.In
}

// Stdout implements term.Terminal.
func (t *Term) Stdout() io.Writer { return lockedWriter{t, &t.out} }

// Stderr implements term.Terminal.
func (t *Term) Stderr() io.Writer { return lockedWriter{t, &t.err} }

// TTY implements term.Terminal.
func (t *Term) TTY() ipc.TTYState { return t.TTYs }

// Size implements term.Terminal.
func (t *Term) Size() ipc.WinSize { return ipc.WinSize{} }

// CanPrompt implements term.Terminal.
func (t *Term) CanPrompt() bool { return len(t.Answers) > 0 || t.Interactive }

// Prompt implements term.Terminal.
func (t *Term) Prompt(_ context.Context, p ipc.Prompt) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.asked = append(t.asked, p.Text)
	if len(t.Answers) == 0 {
		return "", ipc.Interrupted("no answer")
	}
	a := t.Answers[0]
	t.Answers = t.Answers[1:]
	return a, nil
}

// Do implements term.Terminal: no action can be done in a test.
func (t *Term) Do(context.Context, ipc.Action) (ipc.ActionResult, error) {
	return ipc.ActionResult{}, errors.New("kittest: no local actions")
}

type lockedWriter struct {
	t *Term
	b *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	return w.b.Write(p)
}
