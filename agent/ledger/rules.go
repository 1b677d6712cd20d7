package ledger

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

const (
	// window is the server's counting window for every MFA rule.
	window = 5 * time.Minute
	// lockoutAt: the server locks at 5 failures in the window, so with 4
	// already there the next attempt is one wrong digit away from a lock.
	lockoutAt = 4
	// rateLimitAt: the server refuses the 6th TOTP-class (or WebAuthn)
	// attempt in the window, and records the refusal as a failure.
	rateLimitAt = 5
	// stepLen is the TOTP time step the server consumes on success.
	stepLen = 30 * time.Second
)

// Refusal reasons, in the order that breaks ties between two refusals with
// the same RetryAt: the earlier one tells the user more.
var reasonRank = map[string]int{
	"ledger_lost":  0,
	"server_block": 1,
	"lockout":      2,
	"rate_limit":   3,
	"same_step":    4,
	"replay":       5,
}

// view is one set of attempts and blocks that the server may count as a
// single user's.
type view struct {
	attempts []attempt
	blocks   []serverBlock
}

// finding is a refusal before it is phrased.
type finding struct {
	reason  string
	retryAt time.Time
	count   int    // attempts behind a lockout or rate_limit
	factor  Factor // for rate_limit
	kind    string // for server_block
	file    string // for ledger_lost
}

// userURL splits a "<gatewayURL>\x00<email>" key. ok is false for keys of
// another shape, which are then only ever compared whole.
func userURL(user string) (url, email string, ok bool) {
	return strings.Cut(user, "\x00")
}

// views returns every attempt set that sending for user must respect.
// Attempts made before the email was known ("<URL>\x00") may belong to any
// account on that gateway, so they count for each; and an attempt for the
// unknown-email key itself must be safe for every account it could turn out
// to be.
func (st *state) views(user string) []view {
	own := view{attempts: st.f.Users[user]}
	if b, ok := st.f.Blocks[user]; ok {
		own.blocks = append(own.blocks, b)
	}
	url, email, ok := userURL(user)
	if !ok {
		return []view{own}
	}
	anon := url + "\x00"
	if email != "" {
		own.attempts = append(append([]attempt(nil), own.attempts...), st.f.Users[anon]...)
		if b, ok := st.f.Blocks[anon]; ok {
			own.blocks = append(own.blocks, b)
		}
		return []view{own}
	}
	out := []view{own}
	seen := map[string]bool{}
	add := func(k string) {
		if seen[k] || k == anon || !strings.HasPrefix(k, anon) {
			return
		}
		seen[k] = true
		v := view{attempts: append(append([]attempt(nil), own.attempts...), st.f.Users[k]...), blocks: own.blocks}
		if b, ok := st.f.Blocks[k]; ok {
			v.blocks = append(append([]serverBlock(nil), v.blocks...), b)
		}
		out = append(out, v)
	}
	for k := range st.f.Users {
		add(k)
	}
	for k := range st.f.Blocks {
		add(k)
	}
	return out
}

// evaluate applies every rule to one prospective attempt and returns the
// findings; hash and step are empty/zero when they do not apply.
func (st *state) evaluate(user string, f Factor, hash string, step int64, now time.Time) []finding {
	var out []finding
	if m := st.f.Lost; m != nil && now.Before(m.At.Add(window)) {
		out = append(out, finding{reason: "ledger_lost", retryAt: m.At.Add(window), file: m.File})
	}
	for _, v := range st.views(user) {
		out = append(out, evalView(v, f, hash, step, now)...)
	}
	return out
}

func evalView(v view, f Factor, hash string, step int64, now time.Time) []finding {
	var out []finding
	cut := now.Add(-window)
	var failed, same []time.Time
	replay := false
	var stepAccepted bool
	for _, a := range v.attempts {
		if hash != "" && a.Hash == hash && a.Time.After(now.Add(-retention)) {
			replay = true
		}
		if step != 0 && a.Step == step && a.Outcome == Accepted {
			stepAccepted = true
		}
		// An attempt at exactly now-5m has left the window; one in the
		// future (a clock set back) is treated as recent, the safe side.
		if !a.Time.After(cut) {
			continue
		}
		if a.Outcome != Accepted {
			failed = append(failed, a.Time)
		}
		if a.Factor == f {
			same = append(same, a.Time)
		}
	}
	// With n counted attempts sorted oldest first, fewer than limit remain
	// once attempt n-limit has left the window.
	retry := func(ts []time.Time, limit int) time.Time {
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
		return ts[len(ts)-limit].Add(window)
	}
	if len(failed) >= lockoutAt {
		out = append(out, finding{reason: "lockout", retryAt: retry(failed, lockoutAt), count: len(failed)})
	}
	if len(same) >= rateLimitAt {
		out = append(out, finding{reason: "rate_limit", retryAt: retry(same, rateLimitAt), count: len(same), factor: f})
	}
	if stepAccepted {
		out = append(out, finding{reason: "same_step", retryAt: stepStart(step + 1)})
	}
	for _, b := range v.blocks {
		if now.Before(b.Until) {
			out = append(out, finding{reason: "server_block", retryAt: b.Until, kind: b.Kind})
		}
	}
	if replay {
		out = append(out, finding{reason: "replay"})
	}
	return out
}

// worst picks the finding to report. Every timed rule only relaxes as time
// passes, so sending is safe at the latest RetryAt of all of them, and that
// is the one whose message tells the truth. A replay has no time; it is
// reported only when nothing else holds, because "wait for the next code"
// would be wrong advice while a lockout still stands.
func worst(fs []finding) *finding {
	var best *finding
	for i := range fs {
		c := &fs[i]
		switch {
		case best == nil:
			best = c
		case c.reason == "replay":
		case best.reason == "replay",
			c.retryAt.After(best.retryAt),
			c.retryAt.Equal(best.retryAt) && reasonRank[c.reason] < reasonRank[best.reason]:
			best = c
		}
	}
	return best
}

// refusal phrases a finding for the user at time now.
func (fd *finding) refusal(now time.Time) *Refusal {
	r := &Refusal{Reason: fd.reason, RetryAt: fd.retryAt}
	in := roundUp(fd.retryAt.Sub(now))
	switch fd.reason {
	case "lockout":
		r.Message = fmt.Sprintf("Nothing was sent: %d MFA attempts were refused (or got no answer) in the last 5 minutes, "+
			"and one more failure would lock your account (the gateway locks it at 5 failed attempts in 5 minutes). Try again in %s.", fd.count, in)
	case "rate_limit":
		if fd.factor == WebAuthn {
			r.Message = fmt.Sprintf("Nothing was sent: %d security-key attempts were made in the last 5 minutes, "+
				"and the gateway refuses more than 5 in 5 minutes. Try again in %s.", fd.count, in)
		} else {
			r.Message = fmt.Sprintf("Nothing was sent: %d MFA codes were sent in the last 5 minutes, and the gateway refuses more than 5 "+
				"in 5 minutes and counts each refusal as a failed attempt toward locking your account. Try again in %s.", fd.count, in)
		}
	case "replay":
		r.Message = "Nothing was sent: that code was already used; wait for the next code from your authenticator."
	case "same_step":
		r.Message = fmt.Sprintf("Nothing was sent: a code from this 30-second period was just accepted, so the code your authenticator "+
			"shows now cannot be used again; wait for the next code (in %s).", in)
	case "server_block":
		if fd.kind == "locked" {
			r.Message = fmt.Sprintf("Nothing was sent: the gateway has locked your account after too many failed MFA attempts, "+
				"and an administrator must unlock it. Try again in %s, once it has been unlocked.", in)
		} else {
			r.Message = fmt.Sprintf("Nothing was sent: the gateway answered \"too many attempts\", and each further refused attempt "+
				"counts toward locking your account. Try again in %s.", in)
		}
	case "ledger_lost":
		r.Message = fmt.Sprintf("Nothing was sent: the MFA attempt ledger %s was missing or unreadable, so recent failed attempts "+
			"may have been forgotten and the attempt budget is treated as spent for 5 minutes. Try again in %s.", fd.file, in)
	}
	return r
}

// roundUp renders d in whole seconds, rounded up so that trying again at
// the time shown is never early ("3m10s", "12s", "5m").
func roundUp(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	m, s := s/60, s%60
	switch {
	case m == 0:
		return fmt.Sprintf("%ds", s)
	case s == 0:
		return fmt.Sprintf("%dm", m)
	default:
		return fmt.Sprintf("%dm%ds", m, s)
	}
}

// totpStep is the TOTP time step containing t.
func totpStep(t time.Time) int64 { return t.Unix() / int64(stepLen/time.Second) }

func stepStart(step int64) time.Time { return time.Unix(step*int64(stepLen/time.Second), 0) }

// isTOTP reports whether code is a 6-digit TOTP code, the only kind tied to
// a time step (backup and Yubico codes are not).
func isTOTP(code string) bool {
	if len(code) != 6 {
		return false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
