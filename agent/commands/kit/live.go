package kit

import (
	"time"

	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/agent/term"
)

// live: what a command shows while it waits, and the notice before a
// step-up window runs out.

// Spinner is a live line on the command's stderr, or nil (whose methods
// do nothing) when that stderr is not a terminal: the caller then prints
// its single line as before. NO_COLOR from the caller's environment turns
// its colour off.
func (x *Ctx) Spinner(text func(elapsed time.Duration) string) *term.Spinner {
	return term.StderrSpinner(x.Term, x.Err, x.Getenv, text)
}

// spinFunc is the step-up engine's Spin for this command: nil when stderr
// is not a terminal, so the engine says its one line instead.
func (x *Ctx) spinFunc() func(text func(time.Duration) string) func(string) {
	if x.Spinner(func(time.Duration) string { return "" }) == nil {
		return nil
	}
	return func(text func(time.Duration) string) func(string) {
		sp := x.Spinner(text)
		sp.Show()
		return sp.Stop
	}
}

// SkipStepUpNotice keeps this command from announcing the end of the
// window: `mfa renew` is about to open a new one.
func (x *Ctx) SkipStepUpNotice() { x.noticed = true }

// stepUpNotice prints, once per window over every terminal, that t's
// step-up window ends within the configured time (stepup_notice_seconds,
// default 60 s; 0 turns it off), so a long command can be started after
// `rack-gateway mfa renew` rather than stop halfway for a prompt. It says
// nothing for API tokens, which have no window, or twice in one command.
func (x *Ctx) stepUpNotice(t *Target) {
	if x.noticed || t.Profile == nil || x.APIToken() != "" {
		return
	}
	x.noticed = true
	left, ok := x.Core.MFA.Notice(core.SessionKey(t.Profile.Dir, t.Name), t.Profile.Config().StepUpNotice())
	if ok {
		x.Progress("Step-up window for %s expires in %s", t.Name, term.Wait(left))
	}
}
