// Package ledger keeps a persistent, cross-process budget of MFA attempts so
// that the agent never sends the attempt that would lock the user's gateway
// account or trip its rate limit.
//
// The gateway counts MFA attempts per user (gateway URL + email) across all
// sessions: 5 failures of any factor in 5 minutes lock the account until an
// administrator unlocks it, more than 5 TOTP-class codes (or WebAuthn
// assertions) in 5 minutes are refused and each refusal counts as a failure,
// and a TOTP step is consumed on success so resending a code is a failure.
// The agent daemon and short-lived --no-agent processes all send attempts,
// so the ledger is a file they share under a lock, and every attempt is
// written down before it goes on the wire.
package ledger

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Factor says which server counter an attempt feeds.
type Factor string

// The factors the gateway counts separately.
const (
	// Code is a TOTP, backup or Yubico code: the server's TOTP-class counter.
	Code Factor = "code"
	// WebAuthn is a security-key assertion, which has its own counter.
	WebAuthn Factor = "webauthn"
)

// Outcome of an attempt.
type Outcome string

// Outcomes; anything but Accepted counts as a failure on the server's side
// as far as the ledger can know.
const (
	// Pending is recorded before sending, with no answer yet. It counts as
	// Rejected, because a lost answer may well have been a failure.
	Pending Outcome = "pending"
	// Accepted means the server verified the attempt.
	Accepted Outcome = "accepted"
	// Rejected covers wrong, replayed, lost answers, 5xx and the like.
	Rejected Outcome = "rejected"
)

// Server refusal kinds accepted by ServerRefused.
const (
	// KindRateLimited is the server's "too many attempts" refusal.
	KindRateLimited = "rate_limited"
	// KindLocked is the server's "account locked" refusal.
	KindLocked = "locked"
)

// Ledger is safe for concurrent use by goroutines and by processes sharing
// Dir. The zero value with Dir set is ready to use.
type Ledger struct {
	// Dir holds mfa-ledger.json, mfa-ledger.key and mfa-ledger.lock, e.g.
	// $XDG_STATE_HOME/rack-gateway. It is created 0700 on first use.
	Dir string
	// Now is the clock, injectable for tests; nil means time.Now.
	Now func() time.Time
	// SameStep, when set, says whether user has more than one TOTP secret
	// enrolled, for whom a second, different 6-digit code in the 30 s step
	// of an accepted one would hit the same server step and be refused as
	// a replay. Nil means no user has.
	SameStep func(user string) bool
	// Grace is how much later than this process's clock the server may
	// stamp an attempt (the request's travel time, its clock running
	// behind ours). Attempts are recorded that much later, so an attempt
	// leaves the 5-minute window by our clock no earlier than by the
	// server's, and a code sent at the edge is never the server's fifth.
	Grace time.Duration
}

// Open returns a Ledger for dir. Nothing is read or created until the first
// call, so Open cannot fail.
func Open(dir string) *Ledger { return &Ledger{Dir: dir, Grace: DefaultGrace} }

// DefaultGrace is Open's Grace: request latency plus modest clock skew.
const DefaultGrace = 15 * time.Second

func (l *Ledger) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Refusal is the error Check and Reserve return when sending could lock or
// rate-limit the account, or would replay a code. Nothing was sent.
type Refusal struct {
	// Reason is "lockout", "rate_limit", "replay", "same_step",
	// "server_block" or "ledger_lost".
	Reason string
	// RetryAt is when sending becomes safe again; zero for a replay, which
	// is never safe for that code.
	RetryAt time.Time
	// Message is a complete sentence for the user: that nothing was sent,
	// why, and when to try again.
	Message string
}

// Error returns the user-facing message.
func (r *Refusal) Error() string {
	if r.Message == "" {
		return "ledger: nothing was sent (" + r.Reason + ")"
	}
	return r.Message
}

// Budget is the state of a user's attempt budget, for status displays and
// messages.
type Budget struct {
	// Rejected counts recent attempts (any factor) that were refused or got
	// no answer; at 4 the next attempt is refused.
	Rejected int
	// Codes counts recent Code attempts in any outcome; at 5 the next code
	// is refused.
	Codes int
	// WebAuthn counts recent WebAuthn attempts in any outcome.
	WebAuthn int
	// Next is when a Code attempt becomes safe, zero if now. It leaves out
	// the rules that depend on the code itself (replay, same_step).
	Next time.Time
	// NextWebAuthn is when a WebAuthn attempt becomes safe, zero if now.
	NextWebAuthn time.Time
}

// Ticket is a reserved attempt. Settle it with the server's answer; one
// never settled stays Pending, which counts as Rejected.
type Ticket struct {
	l    *Ledger
	user string
	id   string

	mu      sync.Mutex
	settled bool
}

// prepare validates an attempt and derives what the rules need: the keyed
// hash of the code (when a key exists) and the TOTP step of a 6-digit code.
func prepare(st *state, user string, f Factor, code string, now time.Time) (hash string, step int64, err error) {
	if user == "" {
		return "", 0, errors.New("ledger: empty user key")
	}
	switch f {
	case Code:
		if code == "" {
			// Check with no code asks whether any code could be sent
			// (before prompting); Reserve refuses it.
			return "", 0, nil
		}
		if isTOTP(code) {
			step = totpStep(now)
		}
		return st.hash(code), step, nil
	case WebAuthn:
		// An assertion is single-use by construction; there is no code.
		return "", 0, nil
	default:
		return "", 0, fmt.Errorf("ledger: unknown factor %q", f)
	}
}

func refuse(st *state, user string, f Factor, hash string, step int64, now time.Time) error {
	if w := worst(st.evaluate(user, f, hash, step, now)); w != nil {
		return w.refusal(now)
	}
	return nil
}

// Check applies every rule for sending one attempt of factor f (code is the
// normalized code, "" for WebAuthn) by user, without recording an attempt.
// It returns nil, a *Refusal, or another error when the ledger cannot be
// used (send nothing then either). The only thing it may write is the
// marker of a lost ledger, so that the fail-safe period starts when the
// loss was first noticed.
//
// For a Code, an empty code asks whether any code could be sent now, which
// is what a caller wants to know before it prompts someone for one.
func (l *Ledger) Check(user string, f Factor, code string) error {
	return l.update(func(st *state, now time.Time) (bool, error) {
		hash, step, err := prepare(st, user, f, code, now)
		if err != nil {
			return false, err
		}
		return false, refuse(st, user, f, hash, l.stepRule(user, step), now)
	})
}

// stepRule returns step when the same-step rule applies to user, else 0.
// The rule matters only for a user with more than one TOTP secret: with
// one, the only other code of an accepted step is the same code (caught as
// a replay), and a different code is an adjacent step's, which the server
// accepts; refusing it would refuse a good code.
func (l *Ledger) stepRule(user string, step int64) int64 {
	if l.SameStep != nil && l.SameStep(user) {
		return step
	}
	return 0
}

// Reserve applies the same rules as Check and, when sending is safe,
// records a Pending attempt, written and fsynced before it returns, that
// the caller then puts on the wire. Check and record happen in one critical
// section under the file lock, so two concurrent Reserve calls, in
// goroutines or processes, never both pass when only one more attempt is
// allowed.
func (l *Ledger) Reserve(user string, f Factor, code string) (*Ticket, error) {
	var t *Ticket
	err := l.update(func(st *state, now time.Time) (bool, error) {
		if err := st.ensureKey(); err != nil {
			return false, err
		}
		if f == Code && code == "" {
			return false, errors.New("ledger: a code attempt needs the code, to refuse replays")
		}
		hash, step, err := prepare(st, user, f, code, now)
		if err != nil {
			return false, err
		}
		if err := refuse(st, user, f, hash, l.stepRule(user, step), now); err != nil {
			return false, err
		}
		id, err := newID()
		if err != nil {
			return false, err
		}
		st.f.Users[user] = append(st.f.Users[user], attempt{ID: id, Time: now.Add(l.Grace), Factor: f, Outcome: Pending, Hash: hash, Step: step})
		t = &Ticket{l: l, user: user, id: id}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Settle records the server's answer for the reserved attempt. Calling it
// again is harmless: the first answer wins, in this process and in the
// file. Pending is not an answer and is rejected as an argument. If the
// attempt is gone (its ledger was lost), there is nothing to settle and
// Settle returns nil: the lost-ledger rule already covers it.
func (t *Ticket) Settle(o Outcome) error {
	if t == nil || t.l == nil {
		return errors.New("ledger: Settle on a nil ticket")
	}
	if o != Accepted && o != Rejected {
		return fmt.Errorf("ledger: cannot settle with outcome %q", o)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.settled {
		return nil
	}
	err := t.l.update(func(st *state, _ time.Time) (bool, error) {
		// Look under the reserving user first, then everywhere: a Rekey
		// may have moved the attempt.
		if settleIn(st.f.Users[t.user], t.id, o) {
			return true, nil
		}
		for u, as := range st.f.Users {
			if u != t.user && settleIn(as, t.id, o) {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	t.settled = true
	return nil
}

// Void removes the reserved attempt: the server answered that it refused
// the request before verifying anything (the login leg's "finish the
// browser first"), so the code was never checked, counts for nothing, and
// may be sent again. Use it only for such answers; a lost answer is
// Settle(Rejected).
func (t *Ticket) Void() error {
	if t == nil || t.l == nil {
		return errors.New("ledger: Void on a nil ticket")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.settled {
		return nil
	}
	err := t.l.update(func(st *state, _ time.Time) (bool, error) {
		for u, as := range st.f.Users {
			for i := range as {
				if as[i].ID == t.id && as[i].Outcome == Pending {
					st.f.Users[u] = append(as[:i:i], as[i+1:]...)
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	t.settled = true
	return nil
}

// settleIn sets the outcome of attempt id if it is still Pending, and
// reports whether the ledger changed.
func settleIn(as []attempt, id string, o Outcome) bool {
	for i := range as {
		if as[i].ID == id {
			if as[i].Outcome != Pending {
				return false
			}
			as[i].Outcome = o
			return true
		}
	}
	return false
}

// ServerRefused records what the server said when it refused a code: kind
// "rate_limited" (too many attempts) or "locked" (account locked). Either
// way nothing more is sent for user for 5 minutes from now. The server
// records its rate_limited refusal as a failed attempt, so that also counts
// here as one Rejected code attempt.
func (l *Ledger) ServerRefused(user, kind string) error {
	if user == "" {
		return errors.New("ledger: empty user key")
	}
	if kind != KindRateLimited && kind != KindLocked {
		return fmt.Errorf("ledger: unknown server refusal %q", kind)
	}
	return l.update(func(st *state, now time.Time) (bool, error) {
		b := serverBlock{Kind: kind, Until: now.Add(window)}
		if old, ok := st.f.Blocks[user]; ok && now.Before(old.Until) {
			// A lock is the stronger news: a later rate limit must not
			// hide it, nor shorten a block.
			if old.Until.After(b.Until) {
				b.Until = old.Until
			}
			if old.Kind == KindLocked {
				b.Kind = KindLocked
			}
		}
		st.f.Blocks[user] = b
		if kind == KindRateLimited {
			id, err := newID()
			if err != nil {
				return false, err
			}
			st.f.Users[user] = append(st.f.Users[user], attempt{ID: id, Time: now, Factor: Code, Outcome: Rejected})
		}
		return true, nil
	})
}

// Rekey moves every attempt (and server block) recorded under from to to,
// for a login whose attempts were recorded before the email was known.
// Tickets reserved under from still settle after the move.
func (l *Ledger) Rekey(from, to string) error {
	if from == "" || to == "" {
		return errors.New("ledger: empty user key")
	}
	if from == to {
		return nil
	}
	return l.update(func(st *state, _ time.Time) (bool, error) {
		as, hasA := st.f.Users[from]
		b, hasB := st.f.Blocks[from]
		if !hasA && !hasB {
			return false, nil
		}
		if hasA {
			st.f.Users[to] = append(st.f.Users[to], as...)
			delete(st.f.Users, from)
		}
		if hasB {
			if old, ok := st.f.Blocks[to]; !ok || b.Until.After(old.Until) {
				st.f.Blocks[to] = b
			}
			delete(st.f.Blocks, from)
		}
		return true, nil // save sorts the merged attempts by time
	})
}

// Budget reports the user's recent rejections and attempts and when the
// next attempt becomes safe. Like Check, it writes only a lost-ledger marker.
func (l *Ledger) Budget(user string) (Budget, error) {
	var b Budget
	err := l.update(func(st *state, now time.Time) (bool, error) {
		if user == "" {
			return false, errors.New("ledger: empty user key")
		}
		cut := now.Add(-window)
		for _, v := range st.views(user) {
			var rej, codes, wa int
			for _, a := range v.attempts {
				if !a.Time.After(cut) {
					continue
				}
				if a.Outcome != Accepted {
					rej++
				}
				switch a.Factor {
				case Code:
					codes++
				case WebAuthn:
					wa++
				}
			}
			b.Rejected, b.Codes, b.WebAuthn = max(b.Rejected, rej), max(b.Codes, codes), max(b.WebAuthn, wa)
		}
		if w := worst(st.evaluate(user, Code, "", 0, now)); w != nil {
			b.Next = w.retryAt
		}
		if w := worst(st.evaluate(user, WebAuthn, "", 0, now)); w != nil {
			b.NextWebAuthn = w.retryAt
		}
		return false, nil
	})
	return b, err
}
