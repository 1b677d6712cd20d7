package sandbox

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests pin down the MFA attempt limits and the automatic lock as the
// real server implements them:
//
//   - TOTP-class codes (TOTP, backup codes, Yubico OTP) share one limit: 5
//     attempts in 5 minutes, successes included (Yubico successes leave no
//     row). At the limit a code is refused unevaluated and the refusal is a
//     failed rate_limited row; the lock is not checked then.
//   - WebAuthn has its own limit of the same shape.
//   - After a failed verification (TOTP, backup, replay or WebAuthn), 5
//     failed rows of any factor in 5 minutes, rate_limited rows included,
//     lock the account.
//   - Every way a code reaches the gateway (verify endpoint, login leg,
//     inline or header proofs on native and proxy routes) uses the same
//     verifier and the same rows.

const (
	msgTooMany   = "too many attempts - try again in 5 minutes"
	msgLockedNow = "account locked due to multiple failed attempts - contact administrator"
)

// mfaState reads GET /_sandbox/users/{email}/mfa as a test outside the
// package would.
func (e *env) mfaState(email string) MFAState {
	e.t.Helper()
	rec := e.do(req{method: "GET", path: "/_sandbox/users/" + email + "/mfa", remote: "127.0.0.1:4000"})
	wantStatus(e.t, rec, 200)
	var st MFAState
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

// wantMFA checks email's lock state and its counted attempt rows, each
// written "factor ok [reason]" or "factor reason".
func (e *env) wantMFA(email string, locked bool, rows ...string) {
	e.t.Helper()
	st := e.mfaState(email)
	got := make([]string, len(st.Attempts))
	for i, a := range st.Attempts {
		got[i] = a.Factor
		if a.Success {
			got[i] += " ok"
		}
		if a.Reason != "" {
			got[i] += " " + a.Reason
		}
	}
	if g, w := strings.Join(got, ", "), strings.Join(rows, ", "); g != w {
		e.t.Fatalf("attempt rows\n got: %s\nwant: %s", g, w)
	}
	if st.Locked != locked {
		e.t.Fatalf("locked = %v, want %v", st.Locked, locked)
	}
	if want := map[bool]string{true: lockReason}[locked]; st.LockReason != want {
		e.t.Fatalf("lock_reason = %q, want %q", st.LockReason, want)
	}
}

// times repeats one row description n times for wantMFA.
func times(n int, row string) []string {
	rows := make([]string, n)
	for i := range rows {
		rows[i] = row
	}
	return rows
}

func rowsOf(parts ...[]string) []string {
	var all []string
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

const hammerUser = "admin@example.com"

// hammer runs the sequence the TOTP attempt limit is about and returns the
// env at t = 200 s (t = 0 is the first request) with the session token:
//
//	t (s)      request                answer              rows added
//	0…120      valid code, 5 steps    200                 5 × ok
//	150        valid code, 6th step   too many attempts   rate_limited
//	160…190    valid codes ×4         too many attempts   4 × rate_limited
//	200        wrong code             too many attempts   rate_limited
//
// That is five successes, five refusals in a row, then a wrong code. The
// wrong code is refused like the others, before any evaluation, and the
// real server runs no lock check on a refusal, so the account stays
// unlocked with six failed rows in the window: more than the lock
// threshold, yet no lock.
func hammer(t *testing.T) (*env, string) {
	t.Helper()
	e := newEnv(t)
	tok := e.session(hammerUser, false)
	for i := 0; i < 5; i++ {
		if i > 0 {
			e.clock.Advance(30 * time.Second)
		}
		wantStatus(t, e.verify(tok, e.code(hammerUser)), 200)
	}
	e.clock.Advance(30 * time.Second)
	wantJSONError(t, e.verify(tok, e.code(hammerUser)), 400, msgTooMany)
	for i := 0; i < 4; i++ {
		e.clock.Advance(10 * time.Second)
		wantJSONError(t, e.verify(tok, e.code(hammerUser)), 400, msgTooMany)
	}
	e.clock.Advance(10 * time.Second)
	wantJSONError(t, e.verify(tok, "000000"), 400, msgTooMany)
	return e, tok
}

func TestTOTPAttemptLimitSequence(t *testing.T) {
	t.Parallel()
	e, _ := hammer(t)
	e.wantMFA(hammerUser, false, rowsOf(times(5, "totp ok"), times(6, "totp rate_limited"))...)
	// Refused codes were never evaluated: the sixth step is not consumed.
	if n := len(e.user(hammerUser).stepHistory); n != 5 {
		t.Fatalf("%d steps consumed, want 5", n)
	}
}

// TestTOTPLimitLiftsIntoLock continues hammer's sequence. The successes
// (t ≤ 120) are gone from the window by t = 420, but the rate_limited rows
// (t = 150…200) keep the limit in force until fewer than 5 remain: rows
// count while t > now − 5 min, so at now = 460 only t = 170…200 are left.
func TestTOTPLimitLiftsIntoLock(t *testing.T) {
	t.Parallel()
	t.Run("one second early, still refused", func(t *testing.T) {
		t.Parallel()
		e, tok := hammer(t)
		e.clock.Advance(259 * time.Second) // now = 459: rows 160…200 remain
		wantJSONError(t, e.verify(tok, e.code(hammerUser)), 400, msgTooMany)
		e.wantMFA(hammerUser, false, times(6, "totp rate_limited")...)
	})
	t.Run("a wrong code locks", func(t *testing.T) {
		t.Parallel()
		e, tok := hammer(t)
		e.clock.Advance(260 * time.Second) // now = 460
		// The code is evaluated and fails; with the four remaining
		// rate_limited rows that makes five failures: locked.
		wantJSONError(t, e.verify(tok, "000000"), 400, msgLockedNow)
		e.wantMFA(hammerUser, true, rowsOf(times(4, "totp rate_limited"), times(1, "totp invalid_code"))...)
	})
	t.Run("a valid code verifies", func(t *testing.T) {
		t.Parallel()
		e, tok := hammer(t)
		e.clock.Advance(260 * time.Second)
		wantStatus(t, e.verify(tok, e.code(hammerUser)), 200)
		e.wantMFA(hammerUser, false, rowsOf(times(4, "totp rate_limited"), times(1, "totp ok"))...)
	})
}

// TestTOTPLimitCountsBackupCodesNotYubico: backup-code successes are
// TOTP-class rows; a Yubico OTP success leaves none, yet at the limit a
// Yubico OTP is refused like any code (and not spent).
func TestTOTPLimitCountsBackupCodesNotYubico(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const email = "viewer@example.com"
	tok := e.session(email, false)
	backup := e.s.BackupCodes(email)
	otp := e.s.YubicoOTP(email)
	unused := func() float64 {
		rec := e.do(req{method: "GET", path: "/api/v1/auth/mfa/status", header: bearer(tok)})
		return decode(t, rec.Body.Bytes())["backup_codes"].(map[string]any)["unused"].(float64)
	}

	wantStatus(t, e.verify(tok, e.code(email)), 200)
	wantStatus(t, e.verify(tok, backup[0]), 200)
	e.clock.Advance(30 * time.Second)
	wantStatus(t, e.verify(tok, e.code(email)), 200)
	wantStatus(t, e.verify(tok, backup[1]), 200)
	wantStatus(t, e.verify(tok, backup[2]), 200)
	wantJSONError(t, e.verify(tok, otp), 400, msgTooMany)
	wantJSONError(t, e.verify(tok, backup[3]), 400, msgTooMany)
	e.wantMFA(email, false, "totp ok", "totp ok backup_code", "totp ok", "totp ok backup_code", "totp ok backup_code",
		"totp rate_limited", "totp rate_limited")
	if n := unused(); n != 7 {
		t.Fatalf("unused backup codes %v, want 7: a refused code was spent", n)
	}

	e.clock.Advance(5 * time.Minute) // every row above is out of the window
	// The refused OTP was not spent; its success adds no row, so five
	// counted successes can follow it.
	wantStatus(t, e.verify(tok, otp), 200)
	e.wantMFA(email, false)
	wantStatus(t, e.verify(tok, e.code(email)), 200)
	for _, c := range backup[3:7] {
		wantStatus(t, e.verify(tok, c), 200)
	}
	wantJSONError(t, e.verify(tok, backup[7]), 400, msgTooMany)
	e.wantMFA(email, false, rowsOf(times(1, "totp ok"), times(4, "totp ok backup_code"), times(1, "totp rate_limited"))...)
}

// TestLockAfterAnyFailedVerification: the fifth failed row of any factor
// locks when it comes from a failed verification.
func TestLockAfterAnyFailedVerification(t *testing.T) {
	t.Parallel()
	const email = "deployer@example.com"
	wrongCodes := func(e *env, tok string, n int) {
		e.t.Helper()
		for i := 0; i < n; i++ {
			wantJSONError(e.t, e.verify(tok, "000000"), 400, "verification failed")
		}
	}
	// badAssertion fails WebAuthn validation (signed for another RP ID).
	badAssertion := func(e *env, tok string, key *softKey) *httptest.ResponseRecorder {
		so := e.webauthnStart(tok)
		return e.webauthnVerify(tok, so.SessionData, key.assert(e.t, "example.com", so.Options.PublicKey.Challenge, "http://localhost"))
	}

	t.Run("fifth wrong code", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		tok := e.session(email, false)
		wrongCodes(e, tok, 4)
		e.wantMFA(email, false, times(4, "totp invalid_code")...)
		wantJSONError(t, e.verify(tok, "000000"), 400, msgLockedNow)
		e.wantMFA(email, true, times(5, "totp invalid_code")...)
	})
	t.Run("replay as the fifth failure", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		key := e.enrollKey(email)
		tok := e.session(email, false)
		code := e.code(email)
		wantStatus(t, e.verify(tok, code), 200)
		for i := 0; i < 4; i++ {
			wantStatus(t, badAssertion(e, tok, key), 400)
		}
		e.clock.Advance(20 * time.Second) // same step: the code still matches
		wantJSONError(t, e.verify(tok, code), 400, msgLockedNow)
		e.wantMFA(email, true, rowsOf(times(1, "totp ok"), times(4, "webauthn validation_failed"), times(1, "totp replay_detected"))...)
	})
	t.Run("spent backup code as the fifth failure", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		tok := e.session(email, false)
		spent := e.s.BackupCodes(email)[0]
		wantStatus(t, e.verify(tok, spent), 200)
		e.clock.Advance(5 * time.Minute) // the success no longer counts
		wrongCodes(e, tok, 4)
		wantJSONError(t, e.verify(tok, spent), 400, msgLockedNow)
		e.wantMFA(email, true, times(5, "totp invalid_code")...)
	})
	t.Run("webauthn failure as the fifth failure", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		key := e.enrollKey(email)
		tok := e.session(email, false)
		wrongCodes(e, tok, 4)
		wantJSONError(t, badAssertion(e, tok, key), 400, msgLockedNow)
		e.wantMFA(email, true, rowsOf(times(4, "totp invalid_code"), times(1, "webauthn validation_failed"))...)
	})
	t.Run("unreadable webauthn session counts but does not lock", func(t *testing.T) {
		t.Parallel()
		// The real server records invalid_session and returns without a
		// lock check; the next failed verification then locks.
		e := newEnv(t)
		e.enrollKey(email)
		tok := e.session(email, false)
		wrongCodes(e, tok, 4)
		wantJSONError(t, e.webauthnVerify(tok, "{", "{}"), 400, "failed to unmarshal session: unexpected end of JSON input")
		e.wantMFA(email, false, rowsOf(times(4, "totp invalid_code"), times(1, "webauthn invalid_session"))...)
		wantJSONError(t, e.verify(tok, "000000"), 400, msgLockedNow)
	})
}

// TestWebAuthnAttemptLimit: WebAuthn's own limit counts successes, its
// refusals are failed rows that the next failed TOTP verification counts
// toward the lock, and it does not stop TOTP codes.
func TestWebAuthnAttemptLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const email = "viewer@example.com"
	key := e.enrollKey(email)
	tok := e.session(email, false)
	ceremony := func() (string, string) {
		so := e.webauthnStart(tok)
		return so.SessionData, key.assert(t, "localhost", so.Options.PublicKey.Challenge, "http://localhost")
	}
	for i := 0; i < 5; i++ {
		sd, assertion := ceremony()
		wantStatus(t, e.webauthnVerify(tok, sd, assertion), 200)
	}
	e.clock.Advance(time.Second) // refill the mfa request bucket
	sd, good := ceremony()
	wantJSONError(t, e.webauthnVerify(tok, sd, good), 400, msgTooMany)
	// The inline proof meets the same limit (native: collapsed 401).
	rec := e.do(req{method: "POST", path: "/api/v1/api-tokens", body: `{"name":"ci","role":"cicd"}`,
		header: withHeader(e.session(email, true), "X-MFA-WebAuthn", e.webauthnProof(tok, key))})
	wantJSONError(t, rec, 401, "mfa_verification_failed")
	// TOTP has its own limit and still works.
	wantStatus(t, e.verify(tok, e.code(email)), 200)
	for i := 0; i < 2; i++ {
		wantJSONError(t, e.webauthnVerify(tok, sd, good), 400, msgTooMany)
	}
	e.wantMFA(email, false, rowsOf(times(5, "webauthn ok"), times(2, "webauthn rate_limited"), times(1, "totp ok"),
		times(2, "webauthn rate_limited"))...)
	// Four failed rows, all WebAuthn refusals: one wrong code makes five.
	wantJSONError(t, e.verify(tok, "000000"), 400, msgLockedNow)
	e.wantMFA(email, true, rowsOf(times(5, "webauthn ok"), times(2, "webauthn rate_limited"), times(1, "totp ok"),
		times(2, "webauthn rate_limited"), times(1, "totp invalid_code"))...)
}

func TestTOTPLimitDoesNotBlockWebAuthn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const email = "deployer@example.com"
	key := e.enrollKey(email)
	tok := e.session(email, true)
	for i := 0; i < 5; i++ {
		wantStatus(t, e.verify(tok, e.code(email)), 200)
		e.clock.Advance(30 * time.Second)
	}
	wantJSONError(t, e.verify(tok, e.code(email)), 400, msgTooMany)
	so := e.webauthnStart(tok)
	wantStatus(t, e.webauthnVerify(tok, so.SessionData, key.assert(t, "localhost", so.Options.PublicKey.Challenge, "http://localhost")), 200)
	e.s.ExpireStepUp(email)
	rec := e.do(req{method: "POST", path: "/api/v1/rack-proxy/apps/demo/releases", header: withHeader(tok, "X-MFA-WebAuthn", e.webauthnProof(tok, key))})
	wantStatus(t, rec, 200)
	e.wantMFA(email, false, rowsOf(times(5, "totp ok"), times(1, "totp rate_limited"), times(2, "webauthn ok"))...)
}

// answer is a reply reduced to its status and message: the JSON "error"
// field, or the text body.
type answer struct {
	status int
	msg    string
}

func answerOf(t *testing.T, rec *httptest.ResponseRecorder) answer {
	t.Helper()
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		msg, _ := decode(t, rec.Body.Bytes())["error"].(string)
		return answer{rec.Code, msg}
	}
	return answer{rec.Code, rec.Body.String()}
}

// codeChannel is one way a TOTP code reaches the gateway.
type codeChannel struct {
	name string
	send func(code string) answer
}

// codeChannels lists every way a CLI can present email's code, for the
// verified session tok. Step-up routes get their window expired first so
// the proof is evaluated rather than ignored.
func codeChannels(l *liveEnv, email, tok string) []codeChannel {
	n := 0
	return []codeChannel{
		{"POST /auth/mfa/verify", func(code string) answer { return answerOf(l.t, l.verify(tok, code)) }},
		{"inline proof on a native always route", func(code string) answer {
			n++
			return answerOf(l.t, l.do(req{method: "POST", path: "/api/v1/api-tokens",
				body: `{"name":"ci-` + strconv.Itoa(n) + `","role":"cicd"}`, header: bearer(tok + ".totp." + code)}))
		}},
		{"header proof on a native step-up route", func(code string) answer {
			_, _ = l.s.ExpireStepUp(email)
			return answerOf(l.t, l.do(req{method: "PUT", path: "/api/v1/apps/demo/env", body: `{"env":{"A":"1"}}`,
				header: withHeader(tok, "X-Mfa-Totp", code)}))
		}},
		{"header proof on the rack proxy", func(code string) answer {
			_, _ = l.s.ExpireStepUp(email)
			return answerOf(l.t, l.do(req{method: "PUT", path: "/api/v1/rack-proxy/system", header: withHeader(tok, "X-Mfa-Totp", code)}))
		}},
		{"Basic password proof on the rack proxy", func(code string) answer {
			_, _ = l.s.ExpireStepUp(email)
			return answerOf(l.t, l.do(req{method: "PUT", path: "/api/v1/rack-proxy/system", header: basic("convox", tok+".totp."+code)}))
		}},
		{"login leg POST /auth/cli/mfa", func(code string) answer {
			st := l.start()
			l.browse(st.AuthURL + "&selected_user=" + email)
			status, body := l.post("/api/v1/auth/cli/mfa", `{"state":"`+st.State+`","method":"totp","code":"`+code+`"}`)
			msg, _ := body["error"].(string)
			return answer{status, msg}
		}},
	}
}

// TestChannelsShareAttemptLimit: successes through five different channels
// exhaust the one TOTP-class limit, and then every channel refuses, each in
// its own words.
func TestChannelsShareAttemptLimit(t *testing.T) {
	t.Parallel()
	l := newLiveEnv(t)
	const email = "admin@example.com"
	chans := codeChannels(l, email, l.session(email, true))
	pass := []int{0, 1, 2, 3, 5}
	for i, c := range pass {
		if i > 0 {
			l.clock.Advance(30 * time.Second)
		}
		if got := chans[c].send(l.code(email)); got.status != 200 {
			t.Fatalf("%s: %+v", chans[c].name, got)
		}
	}
	l.clock.Advance(30 * time.Second)
	refused := []answer{
		{400, msgTooMany},
		{401, "mfa_verification_failed"},
		{401, "mfa_verification_failed"},
		{401, "MFA verification failed"},
		{401, "MFA verification failed"},
		{400, "invalid_code"},
	}
	for i, c := range chans {
		if got := c.send(l.code(email)); got != refused[i] {
			t.Fatalf("%s: %+v, want %+v", c.name, got, refused[i])
		}
	}
	l.wantMFA(email, false, rowsOf(times(5, "totp ok"), times(6, "totp rate_limited"))...)
}

// TestChannelsShareLockout: wrong codes through five different channels
// lock the account on the fifth.
func TestChannelsShareLockout(t *testing.T) {
	t.Parallel()
	l := newLiveEnv(t)
	const email = "deployer@example.com"
	tok := l.session(email, true)
	chans := codeChannels(l, email, tok)
	login, rest := chans[5], chans[1:5]
	if got := login.send("000000"); got != (answer{400, "invalid_code"}) {
		t.Fatalf("%s: %+v", login.name, got)
	}
	wrong := []answer{
		{401, "mfa_verification_failed"},
		{401, "mfa_verification_failed"},
		{401, "MFA verification failed"},
		{401, "MFA verification failed"}, // the proxy collapses the lock too
	}
	for i, c := range rest {
		if got := c.send("000000"); got != wrong[i] {
			t.Fatalf("%s: %+v, want %+v", c.name, got, wrong[i])
		}
	}
	l.wantMFA(email, true, times(5, "totp invalid_code")...)
	wantJSONError(t, l.verify(tok, l.code(email)), 401, "authentication failed: user locked")
	// A locked user's login code is refused before anything is counted.
	if got := login.send(l.code(email)); got != (answer{400, "invalid_code"}) {
		t.Fatalf("login while locked: %+v", got)
	}
	l.wantMFA(email, true, times(5, "totp invalid_code")...)
}

func TestUserMFAKnob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const email = "viewer@example.com"
	path := "/_sandbox/users/" + email + "/mfa"
	if rec := e.do(req{method: "GET", path: path}); rec.Code != 404 {
		t.Fatalf("non-loopback: %d", rec.Code)
	}
	wantJSONError(t, e.do(req{method: "GET", path: "/_sandbox/users/nobody@example.com/mfa", remote: "127.0.0.1:1"}), 404, "user not found")

	tok := e.session(email, false)
	wantJSONError(t, e.verify(tok, "000000"), 400, "verification failed")
	at := e.clock.Now()
	e.clock.Advance(4 * time.Minute)
	wantStatus(t, e.verify(tok, e.code(email)), 200)
	rec := e.do(req{method: "GET", path: "/_sandbox/users/viewer%40example.com/mfa", remote: "127.0.0.1:1"})
	wantStatus(t, rec, 200)
	want := `{"locked":false,"lock_reason":"","attempts":[` +
		`{"at":"` + at.Format(time.RFC3339) + `","factor":"totp","success":false,"reason":"invalid_code"},` +
		`{"at":"` + e.clock.Now().Format(time.RFC3339) + `","factor":"totp","success":true,"reason":""}]}`
	if rec.Body.String() != want {
		t.Fatalf("body\n got %s\nwant %s", rec.Body.String(), want)
	}
	// Exactly 5 minutes later a row no longer counts, and is not shown.
	e.clock.Advance(time.Minute)
	e.wantMFA(email, false, "totp ok")
	if e.s.RequestCount("GET", path) != 0 {
		t.Fatal("introspection was request-counted")
	}
	st, err := e.s.UserMFAState(email)
	if err != nil || len(st.Attempts) != 1 || !st.Attempts[0].At.Equal(e.clock.Now().Add(-time.Minute)) {
		t.Fatalf("typed state %+v, %v", st, err)
	}
	if _, err := e.s.UserMFAState("nobody@example.com"); err != errUnknownUser {
		t.Fatalf("unknown user: %v", err)
	}
}
