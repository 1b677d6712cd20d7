package stepup

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// Margin is how much of a window must be left to rely on it: a request
// that leaves with 2 s to spare can arrive after the window closed.
const Margin = 10 * time.Second

// Lockout rules the engine stays inside (gateway-api.md §4.5): the server
// locks the account at 5 failed codes in 5 minutes, so the agent never
// sends a fifth.
const (
	MaxFailures   = 4
	FailureWindow = 5 * time.Minute
	totpStep      = 30 * time.Second
)

// Verifier is what the engine needs from the gateway, for one session.
type Verifier interface {
	MFAStatus(ctx context.Context) (*gateway.MFAStatus, error)
	VerifyCode(ctx context.Context, code string) (*gateway.VerifyResult, error)
	WebAuthnStart(ctx context.Context) (*gateway.AssertionStart, error)
	WebAuthnVerify(ctx context.Context, sessionData, response string) (*gateway.VerifyResult, error)
}

// Asker is the terminal that ran the command.
type Asker interface {
	CanPrompt() bool
	Prompt(ctx context.Context, p ipc.Prompt) (string, error)
	Stderr() io.Writer
}

// Asserter produces a WebAuthn assertion_response for a server challenge,
// or an error (no key, no matching credential, cancelled). touch is called
// when the key waits for a touch.
type Asserter func(ctx context.Context, start *gateway.AssertionStart, touch func()) (string, error)

// Session identifies who is asking.
type Session struct {
	// Key names the session's window: one per (config dir, rack).
	Key string
	// User names the account on the gateway (URL + email): TOTP steps and
	// failed codes count per user, across sessions (§4.5).
	User    string
	Rack    string
	Gateway Verifier
}

// Request describes the command that needs MFA.
type Request struct {
	Command string // e.g. "env set", shown to waiting terminals
	Who     string // the terminal, e.g. "/dev/pts/3" or "pid 4242"
	// MFACode is --mfa-code: the proof for this command, no prompt.
	MFACode string
	// Method is --mfa-method; Preference is the config's mfa_preference.
	Method, Preference string
	// Assert, when set, can do WebAuthn with a security key.
	Assert Asserter
	// Force verifies even when the window is fresh (test-auth).
	Force bool
	// Used, when set, is told how the need was met: "reused" (a fresh
	// window), "prompted", "code" (--mfa-code) or "proof" (always-level).
	Used func(how string)
}

func (r Request) used(how string) {
	if r.Used != nil {
		r.Used(how)
	}
}

// Engine is shared by every command in the agent.
type Engine struct {
	Now func() time.Time
	// OnChange, when set, is told about every window change (after the
	// engine's lock is released).
	OnChange func(key string, info WindowInfo)

	mu    sync.Mutex
	racks map[string]*window
	users map[string]*userState
}

// New returns an engine.
func New() *Engine {
	return &Engine{Now: time.Now, racks: map[string]*window{}, users: map[string]*userState{}}
}

// window is one session's step-up window and its single-flight guard.
type window struct {
	expires  time.Time // zero: unknown or closed
	verified time.Time // when this agent last verified for the session
	known    bool      // expires reflects the server (or our last verify)
	method   string
	openedBy string
	guard    chan struct{} // one terminal at a time may prompt
	holder   string        // who holds the guard, for waiting terminals
	status   *gateway.MFAStatus
}

type userState struct {
	failures []time.Time
	lastCode [32]byte // hash of the last code sent, never the code
	lastUsed time.Time
}

func (e *Engine) win(key string) *window {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.racks[key]
	if w == nil {
		w = &window{guard: make(chan struct{}, 1)}
		e.racks[key] = w
	}
	return w
}

func (e *Engine) user(key string) *userState {
	u := e.users[key]
	if u == nil {
		u = &userState{}
		e.users[key] = u
	}
	return u
}

// WindowInfo is a snapshot for status displays.
type WindowInfo struct {
	ExpiresAt  time.Time
	VerifiedAt time.Time
	Known      bool
	Method     string
	OpenedBy   string
}

// Window returns what the engine knows of a session's window. Reading it
// never extends it.
func (e *Engine) Window(key string) WindowInfo {
	w := e.win(key)
	e.mu.Lock()
	defer e.mu.Unlock()
	return WindowInfo{ExpiresAt: w.expires, VerifiedAt: w.verified, Known: w.known, Method: w.method, OpenedBy: w.openedBy}
}

// Observe records a window expiry the server reported (login, status,
// verify).
func (e *Engine) Observe(key string, expires *time.Time, method, by string) {
	w := e.win(key)
	e.mu.Lock()
	w.known = true
	if expires == nil {
		w.expires = time.Time{}
	} else {
		w.expires, w.method, w.openedBy = *expires, method, by
	}
	e.mu.Unlock()
	e.changed(key)
}

// Invalidate forgets a session's window: the server said it is closed.
func (e *Engine) Invalidate(key string) {
	w := e.win(key)
	e.mu.Lock()
	w.expires, w.known = time.Time{}, true
	e.mu.Unlock()
	e.changed(key)
}

func (e *Engine) changed(key string) {
	if e.OnChange != nil {
		e.OnChange(key, e.Window(key))
	}
}

// Forget drops all state of a session (logout).
func (e *Engine) Forget(key string) {
	e.mu.Lock()
	delete(e.racks, key)
	e.mu.Unlock()
	e.changed(key)
}

func (e *Engine) fresh(w *window) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return w.known && e.Now().Add(Margin).Before(w.expires)
}

func (e *Engine) remaining(w *window) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return w.expires.Sub(e.Now())
}

// acquire takes the session's guard. If another terminal holds it, it says
// so once and waits (until ctx ends). It reports whether it waited.
func (e *Engine) acquire(ctx context.Context, w *window, a Asker, who, cmd string) (bool, error) {
	select {
	case w.guard <- struct{}{}:
		e.setHolder(w, who, cmd)
		return false, nil
	default:
	}
	e.mu.Lock()
	holder := w.holder
	e.mu.Unlock()
	fmt.Fprintf(a.Stderr(), "Waiting for MFA verification in another terminal (%s)...\n", holder)
	select {
	case w.guard <- struct{}{}:
		e.setHolder(w, who, cmd)
		return true, nil
	case <-ctx.Done():
		return true, ipc.Errorf(ipc.CodeInterrupted, "interrupted while waiting for MFA in another terminal")
	}
}

func (e *Engine) setHolder(w *window, who, cmd string) {
	e.mu.Lock()
	w.holder = who
	if cmd != "" {
		w.holder += ", " + cmd
	}
	e.mu.Unlock()
}

func (e *Engine) release(w *window) {
	e.mu.Lock()
	w.holder = ""
	e.mu.Unlock()
	<-w.guard
}

// EnsureWindow makes sure the session has a fresh step-up window, prompting
// the caller's terminal at most once per window for all terminals.
func (e *Engine) EnsureWindow(ctx context.Context, s Session, a Asker, r Request) error {
	w := e.win(s.Key)
	if !r.Force && r.MFACode == "" && e.fresh(w) {
		r.used("reused")
		return nil
	}
	waited, err := e.acquire(ctx, w, a, r.Who, r.Command)
	if err != nil {
		return err
	}
	defer e.release(w)
	if !r.Force && r.MFACode == "" {
		if !w.known {
			// First use since the agent started: ask the server once,
			// under the guard so eight terminals make one call.
			if err := e.refreshStatus(ctx, s, w); err != nil {
				return err
			}
		}
		if e.fresh(w) {
			if waited {
				info := e.Window(s.Key)
				by := info.OpenedBy
				if by == "" {
					by = "another terminal"
				}
				fmt.Fprintf(a.Stderr(), "Using the MFA window opened by %s (expires in %s)\n", by, roundDur(e.remaining(w)))
			}
			r.used("reused")
			return nil
		}
	}
	return e.verify(ctx, s, w, a, r)
}

func (e *Engine) refreshStatus(ctx context.Context, s Session, w *window) error {
	st, err := s.Gateway.MFAStatus(ctx)
	if err != nil {
		return err
	}
	e.Observe(s.Key, st.RecentStepUpExpiresAt, "", "")
	e.mu.Lock()
	w.status = st
	e.mu.Unlock()
	return nil
}

func roundDur(d time.Duration) string {
	switch {
	case d >= 2*time.Minute:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d > 0:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	default:
		return "0s"
	}
}

// hashCode keeps a fingerprint of a code so a replay can be caught without
// keeping the code itself.
func hashCode(code string) [32]byte { return sha256.Sum256([]byte(code)) }

// NormalizeCode strips spaces (people type "123 456"), keeps hyphens, and
// upper-cases what looks like a backup code, which the server compares
// case-sensitively (§4.5).
func NormalizeCode(code string) string {
	code = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, code)
	if isHexish(code) && len(code) != 6 {
		return strings.ToUpper(code)
	}
	return code
}

func isHexish(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF-", r) {
			return false
		}
	}
	return true
}
