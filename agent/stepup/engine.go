package stepup

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/ledger"
	"github.com/rack-gateway/rack-gateway/agent/term"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// Margin is how much of a window must be left to rely on it: a request
// that leaves with 2 s to spare can arrive after the window closed. A
// short window gets a smaller margin (see marginLocked), or a command that
// just verified would find its own window already "too old".
const Margin = 10 * time.Second

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

// LineBreaker is implemented by terminals that know the unfinished output
// line (term.Lines): the engine ends it before it speaks and resumes it
// afterwards, so a prompt never starts in the middle of "Setting FOO... ".
type LineBreaker interface {
	BreakLine() (resume func())
}

// Asserter produces a WebAuthn assertion_response for a server challenge,
// or an error (no key, no matching credential, cancelled). touch is called
// when the key waits for a touch.
type Asserter func(ctx context.Context, start *gateway.AssertionStart, touch func()) (string, error)

// Session identifies who is asking.
type Session struct {
	// Key names the session's window: one per (config dir, rack).
	Key string
	// User names the account on the gateway (URL + "\x00" + email): the
	// attempt budget is per user, across sessions and processes.
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
	// Force verifies even when the window is fresh (test-auth totp).
	Force bool
	// Used, when set, is told how the need was met: "reused" (a fresh
	// window), "prompted", "code" (--mfa-code) or "proof" (always-level).
	Used func(how string)
	// Spin, when set, shows a live line while this terminal waits for
	// another one's prompt (text is called on every redraw, with the time
	// waited) and returns the function that ends it, leaving final as an
	// ordinary line. Nil (stderr is not a terminal): one line is said.
	Spin func(text func(waited time.Duration) string) (stop func(final string))
}

func (r Request) used(how string) {
	if r.Used != nil {
		r.Used(how)
	}
}

// Engine is shared by every command in the agent.
//
// Lock discipline:
//   - e.mu guards e.racks and every field of every *window except guard.
//     Methods named *Locked must be called with e.mu held.
//   - Each decision (is the window fresh, who holds the guard, may a
//     waiter reuse what the holder opened) reads everything it needs in
//     one critical section; nothing decides on values read under two
//     separate acquisitions.
//   - A window's guard (a one-slot channel) lets one terminal at a time
//     verify for a session. It is taken without e.mu held; e.mu may be
//     taken while holding it. Windows are never deleted, only reset
//     (Forget), so holders and waiters always share one guard.
//   - OnChange and the ledger are called without e.mu held; the ledger
//     has its own lock (shared with other processes).
type Engine struct {
	Now func() time.Time
	// OnChange, when set, is told about every window change (after the
	// engine's lock is released).
	OnChange func(key string, info WindowInfo)
	// Ledger is the attempt budget every code and assertion goes through
	// before it is sent. It must not be nil.
	Ledger *ledger.Ledger

	mu    sync.Mutex
	racks map[string]*window
	// several marks users with more than one TOTP secret (from their MFA
	// status), for the ledger's same-step rule.
	several map[string]bool
}

// New returns an engine that records attempts in l.
func New(l *ledger.Ledger) *Engine {
	e := &Engine{Now: time.Now, Ledger: l, racks: map[string]*window{}, several: map[string]bool{}}
	if l != nil && l.SameStep == nil {
		l.SameStep = e.severalTOTP
	}
	return e
}

// UseLedger makes l the engine's attempt ledger (tests point it at a
// directory of their own).
func (e *Engine) UseLedger(l *ledger.Ledger) {
	if l.SameStep == nil {
		l.SameStep = e.severalTOTP
	}
	e.Ledger = l
}

// severalTOTP reports whether user has more than one TOTP secret. The
// ledger calls it under its own lock; e.mu is never held while calling
// the ledger, so the two locks cannot deadlock.
func (e *Engine) severalTOTP(user string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.several[user]
}

// window is one session's step-up window and its single-flight guard.
type window struct {
	expires  time.Time     // zero: unknown or closed
	length   time.Duration // the full window as last opened (0: unknown)
	verified time.Time     // when this agent last verified for the session
	known    bool          // expires reflects the server (or our last verify)
	method   string
	openedBy string
	status   *gateway.MFAStatus
	// gen counts resets (Forget): a verification that started before a
	// login or logout must not write its window onto the new session.
	gen uint64
	// opens counts windows opened or learned (see Stamp): a 401 for a
	// request sent before another terminal verified must not close the
	// window that terminal just opened.
	opens  uint64
	holder string        // who holds the guard, for waiting terminals
	guard  chan struct{} // one terminal at a time may verify
	// noticed is the expiry of the window whose end was announced
	// (Notice), so each window is announced once, whichever terminals
	// run commands in its last minute.
	noticed time.Time
}

func (e *Engine) win(key string) *window {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.winLocked(key)
}

func (e *Engine) winLocked(key string) *window {
	w := e.racks[key]
	if w == nil {
		w = &window{guard: make(chan struct{}, 1)}
		e.racks[key] = w
	}
	return w
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
	e.mu.Lock()
	defer e.mu.Unlock()
	return infoLocked(e.winLocked(key))
}

func infoLocked(w *window) WindowInfo {
	return WindowInfo{ExpiresAt: w.expires, VerifiedAt: w.verified, Known: w.known, Method: w.method, OpenedBy: w.openedBy}
}

// Observe records a window expiry the server reported (status, info). A
// nil expiry means the session has no window.
func (e *Engine) Observe(key string, expires *time.Time, method, by string) {
	e.mu.Lock()
	w := e.winLocked(key)
	w.known = true
	if expires == nil {
		w.expires = time.Time{}
	} else if !expires.Equal(w.expires) {
		w.expires, w.method, w.openedBy = *expires, method, by
		w.opens++
	}
	info := infoLocked(w)
	e.mu.Unlock()
	e.changed(key, info)
}

// Opened records a window the server just opened in full (a login, whose
// answer comes right after the browser's MFA): its remaining time is the
// window's length, which sets the margin for short windows.
func (e *Engine) Opened(key string, expires time.Time, method, by string) {
	e.mu.Lock()
	w := e.winLocked(key)
	e.openLocked(w, expires, method, by)
	info := infoLocked(w)
	e.mu.Unlock()
	e.changed(key, info)
}

func (e *Engine) openLocked(w *window, expires time.Time, method, by string) {
	now := e.Now()
	w.opens++
	w.known, w.expires, w.method, w.openedBy = true, expires, method, by
	if l := expires.Sub(now); l > 0 {
		w.length = l
	}
}

// Stamp identifies the window a request is about to rely on; pass it to
// Closed when the server refuses that request for lack of MFA.
func (e *Engine) Stamp(key string) uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.winLocked(key).opens
}

// Closed marks a session's window closed, because the server refused a
// request sent under stamp for lack of MFA. A window opened since (by
// another terminal, while the request was on the wire) is kept.
func (e *Engine) Closed(key string, stamp uint64) {
	e.mu.Lock()
	w := e.winLocked(key)
	if w.opens != stamp {
		e.mu.Unlock()
		return
	}
	w.expires, w.known = time.Time{}, true
	info := infoLocked(w)
	e.mu.Unlock()
	e.changed(key, info)
}

// Unknown makes the next step-up ask the server about the window: a proof
// passed and restarted it, but the answer did not say until when.
func (e *Engine) Unknown(key string) {
	e.mu.Lock()
	e.winLocked(key).known = false
	e.mu.Unlock()
}

// Forget resets a session's state (login, logout). The window itself and
// its guard stay, so a terminal verifying right now and the terminals
// waiting on it keep sharing one guard instead of prompting side by side.
func (e *Engine) Forget(key string) {
	e.mu.Lock()
	w := e.winLocked(key)
	w.expires, w.length, w.verified, w.known = time.Time{}, 0, time.Time{}, false
	w.method, w.openedBy, w.status = "", "", nil
	w.noticed = time.Time{}
	w.gen++
	info := infoLocked(w)
	e.mu.Unlock()
	e.changed(key, info)
}

func (e *Engine) changed(key string, info WindowInfo) {
	if e.OnChange != nil {
		e.OnChange(key, info)
	}
}

// marginLocked is Margin, but never more than a quarter of the window, so
// a 5 s window is still usable by the command that opened it.
func marginLocked(w *window) time.Duration {
	if w.length > 0 && w.length/4 < Margin {
		return w.length / 4
	}
	return Margin
}

func (e *Engine) freshLocked(w *window) bool {
	return w.known && e.Now().Add(marginLocked(w)).Before(w.expires)
}

// Fresh reports whether the session's window can be relied on now.
func (e *Engine) Fresh(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.freshLocked(e.winLocked(key))
}

// Notice reports whether a command should announce that the session's
// window ends soon: it is open, known, and has at most within left. It
// says yes once per window (the first caller's answer marks it), so of
// all the commands run in a window's last minute only the first says so.
// A window opened later (a new expiry) is announced again.
func (e *Engine) Notice(key string, within time.Duration) (left time.Duration, ok bool) {
	if within <= 0 {
		return 0, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.winLocked(key)
	left = w.expires.Sub(e.Now())
	if !w.known || w.expires.IsZero() || left <= 0 || left > within || w.noticed.Equal(w.expires) {
		return 0, false
	}
	w.noticed = w.expires
	return left, true
}

// screen is what the engine says on one terminal during one decision: the
// first line it prints ends the user's open line, and done resumes it.
type screen struct {
	a      Asker
	resume func()
}

func (sc *screen) breakLine() {
	if sc.resume != nil {
		return
	}
	sc.resume = func() {}
	if lb, ok := sc.a.(LineBreaker); ok {
		sc.resume = lb.BreakLine()
	}
}

func (sc *screen) say(format string, args ...any) {
	sc.breakLine()
	fmt.Fprintf(sc.a.Stderr(), format+"\n", args...)
}

// done resumes the user's line after a decision that succeeded. After a
// failure it stays ended: the error that follows starts on its own line,
// with no dangling "Setting FOO... " before it.
func (sc *screen) done(err *error) {
	if sc.resume != nil && (err == nil || *err == nil) {
		sc.resume()
	}
}

// acquire takes the session's guard. If another terminal holds it, it says
// so once and waits (until ctx ends). It reports whether it waited.
func (e *Engine) acquire(ctx context.Context, w *window, sc *screen, r Request) (bool, error) {
	select {
	case w.guard <- struct{}{}:
		e.setHolder(w, r)
		return false, nil
	default:
	}
	holder := func() string {
		e.mu.Lock()
		defer e.mu.Unlock()
		if w.holder == "" {
			return "another command"
		}
		return w.holder
	}
	line := "Waiting for MFA verification in another terminal (" + holder() + ")..."
	stop := func() {}
	if r.Spin == nil {
		sc.say("%s", line)
	} else {
		// The holder's prompt and how long it has been waiting, redrawn;
		// the holder is read again each time, as it may change hands.
		// Lock order: the spinner's own lock, then e.mu, never the other
		// way round (the engine never calls the spinner under e.mu).
		sc.breakLine()
		start := e.Now()
		end := r.Spin(func(waited time.Duration) string {
			return "Waiting for MFA verification in another terminal (" + holder() + ")... " + term.Wait(waited)
		})
		stop = func() { end(line + " " + term.Wait(e.Now().Sub(start))) }
	}
	select {
	case w.guard <- struct{}{}:
		stop()
		e.setHolder(w, r)
		return true, nil
	case <-ctx.Done():
		stop()
		return true, ipc.Interrupted("interrupted while waiting for MFA in another terminal")
	}
}

func (e *Engine) setHolder(w *window, r Request) {
	e.mu.Lock()
	w.holder = r.Who
	if r.Command != "" {
		w.holder += ", " + r.Command
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
// the caller's terminal at most once per window for all terminals. The
// command that verified uses the window it opened, however short.
func (e *Engine) EnsureWindow(ctx context.Context, s Session, a Asker, r Request) (err error) {
	sc := &screen{a: a}
	defer sc.done(&err)
	w := e.win(s.Key)
	if !r.Force && r.MFACode == "" && e.Fresh(s.Key) {
		r.used("reused")
		return nil
	}
	waited, err := e.acquire(ctx, w, sc, r)
	if err != nil {
		return err
	}
	defer e.release(w)
	if !r.Force && r.MFACode == "" {
		e.mu.Lock()
		known := w.known
		e.mu.Unlock()
		if !known {
			// First use since the agent started: ask the server once,
			// under the guard so eight terminals make one call.
			if err := e.refreshStatus(ctx, s, w); err != nil {
				return err
			}
		}
		e.mu.Lock()
		fresh, by, left := e.freshLocked(w), w.openedBy, w.expires.Sub(e.Now())
		e.mu.Unlock()
		if fresh {
			if waited {
				if by == "" {
					by = "another terminal"
				}
				sc.say("Using the MFA window opened by %s (expires in %s)", by, roundDur(left))
			}
			r.used("reused")
			return nil
		}
	}
	return e.verify(ctx, s, w, sc, r)
}

func (e *Engine) refreshStatus(ctx context.Context, s Session, w *window) error {
	st, err := s.Gateway.MFAStatus(ctx)
	if err != nil {
		return err
	}
	totps := 0
	for _, m := range st.Methods {
		if m.Type == "totp" {
			totps++
		}
	}
	e.mu.Lock()
	e.several[s.User] = totps > 1
	w.status = st
	w.known = true
	if st.RecentStepUpExpiresAt == nil {
		w.expires = time.Time{}
	} else if !st.RecentStepUpExpiresAt.Equal(w.expires) {
		w.expires = *st.RecentStepUpExpiresAt
		w.opens++
	}
	info := infoLocked(w)
	e.mu.Unlock()
	e.changed(s.Key, info)
	return nil
}

// opened records a window this agent just opened, unless the session was
// reset (login, logout) while the verification was on the wire.
func (e *Engine) opened(key string, w *window, gen uint64, res *gateway.VerifyResult, method, who string) {
	e.mu.Lock()
	if w.gen != gen {
		e.mu.Unlock()
		return
	}
	w.verified = e.Now()
	e.openLocked(w, res.RecentStepUpExpiresAt, method, who)
	info := infoLocked(w)
	e.mu.Unlock()
	e.changed(key, info)
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

// NormalizeCode strips spaces (people type "123 456"), keeps hyphens, and
// upper-cases what looks like a backup code, which the server compares
// case-sensitively (docs/gateway-protocol.md, "Factor acceptance").
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
