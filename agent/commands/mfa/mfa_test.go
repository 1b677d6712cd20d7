package mfa_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/agent/commands/mfa"
	"github.com/rack-gateway/rack-gateway/agent/commands/session"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/platform/fido/soft"
)

// The commands run in-process against an httptest sandbox (kittest), one
// per test. The seeded admin's methods are 1 (authenticator app) and 2
// (YubiKey).

const admin = "admin@example.com"

func newEnv(t *testing.T, verified bool) *kittest.Env {
	t.Helper()
	return kittest.New(t, admin, verified, session.Register, mfa.Register)
}

func wantOut(t *testing.T, r kittest.Result, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(r.Out, w) {
			t.Fatalf("no %q in\n%s", w, r)
		}
	}
}

func wantCode(t *testing.T, r kittest.Result, code string) {
	t.Helper()
	if r.Error == nil || r.Error.Code != code {
		t.Fatalf("want error %s, got %s", code, r)
	}
}

func TestStatusIsTestAuthMFA(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	got, want := e.MustRun("mfa", "status").Out, e.MustRun("test-auth", "mfa").Out
	if got != want || !strings.Contains(got, "MFA methods: TOTP, Yubico OTP") {
		t.Fatalf("mfa status:\n%s\ntest-auth mfa:\n%s", got, want)
	}
}

func TestMethodsListRenameAndJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	r := e.MustRun("mfa", "methods")
	if !regexp.MustCompile(`(?m)^ID +TYPE +LABEL +CLI +CREATED +LAST USED$`).MatchString(r.Out) ||
		!regexp.MustCompile(`(?m)^1 +totp +Authenticator App +- `).MatchString(r.Out) ||
		!regexp.MustCompile(`(?m)^2 +yubiotp +YubiKey +- `).MatchString(r.Out) {
		t.Fatalf("table:\n%s", r.Out)
	}
	wantOut(t, r, "Preferred method: -\n", "Backup codes: 10 of 10 unused\n")

	wantOut(t, e.MustRun("mfa", "methods", "rename", "2", "Blue key"), "Renamed method 2 to \"Blue key\"\n")
	wantOut(t, e.MustRun("mfa", "methods", "--output", "json"), `"label": "Blue key"`)

	// Ids are checked before any request that could cost a code.
	wantCode(t, e.Run("mfa", "methods", "rename", "x", "y"), ipc.CodeUsage)
	r = e.Run("mfa", "methods", "rename", "99", "y")
	wantCode(t, r, ipc.CodeNotFound)
	if n := e.Sandbox.RequestCount("PUT", "/api/v1/auth/mfa/methods/99"); n != 0 {
		t.Fatalf("%d renames of a method that is not there were sent", n)
	}
}

func TestRemoveNeedsANewProof(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true) // an open window does not satisfy "always"
	codes := e.Sandbox.BackupCodes(admin)
	term := &kittest.Term{Answers: []string{codes[0]}}
	r := e.RunWith(term, "mfa", "methods", "remove", "2")
	if r.Error != nil || len(r.Prompts) != 1 {
		t.Fatalf("remove: %s; prompts %q", r, r.Prompts)
	}
	wantOut(t, r, "Removed method 2 (yubiotp \"YubiKey\")\n")
	if strings.Contains(e.MustRun("mfa", "methods").Out, "yubiotp") {
		t.Fatal("the YubiKey is still listed")
	}
	// Without a terminal the proof cannot be asked for: nothing is removed.
	wantCode(t, e.Run("mfa", "methods", "remove", "1"), ipc.CodeStepUpRequired)
}

func TestRegeneratedBackupCodePassesAStepUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	r := e.MustRun("mfa", "backup-codes", "regenerate")
	fresh := regexp.MustCompile(`(?m)^  ([0-9A-F]{12})$`).FindAllStringSubmatch(r.Out, -1)
	if len(fresh) != 10 || !strings.Contains(r.Err, "password manager") {
		t.Fatalf("regenerate:\n%s", r)
	}
	if _, err := e.Sandbox.ExpireStepUp(admin); err != nil {
		t.Fatal(err)
	}
	r = e.RunWith(&kittest.Term{Answers: []string{fresh[4][1]}}, "mfa", "preferred", "totp")
	if r.Error != nil || len(r.Prompts) != 1 {
		t.Fatalf("step-up with a new backup code: %s; prompts %q", r, r.Prompts)
	}
	wantOut(t, r, "Preferred MFA method: totp\n")
	wantCode(t, e.Run("mfa", "preferred", "sms"), ipc.CodeUsage)
	wantOut(t, e.MustRun("mfa", "preferred", "none"), "Preferred MFA method cleared\n")
}

func TestTrustedDevices(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	wantOut(t, e.MustRun("mfa", "trusted-devices"), "No trusted devices\n")
	id, err := e.Sandbox.TrustDevice(admin)
	if err != nil {
		t.Fatal(err)
	}
	r := e.MustRun("mfa", "trusted-devices")
	if !regexp.MustCompile(`(?m)^` + itoa(id) + ` +Browser `).MatchString(r.Out) {
		t.Fatalf("list:\n%s", r.Out)
	}
	wantOut(t, e.MustRun("mfa", "trusted-devices", "--output", "json"), `"label": "Browser"`)
	wantOut(t, e.MustRun("mfa", "trusted-devices", "remove", itoa(id)), "Revoked trusted device "+itoa(id)+"\n")
	wantOut(t, e.MustRun("mfa", "trusted-devices"), "No trusted devices\n")
	wantCode(t, e.Run("mfa", "trusted-devices", "remove", itoa(id)), ipc.CodeNotFound)
}

func TestEnrollTOTPAsksBeforeItStarts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	wantCode(t, e.Run("mfa", "enroll", "totp"), ipc.CodeUsage)
	if n := e.Sandbox.RequestCount("POST", "/api/v1/auth/mfa/enroll/totp/start"); n != 0 {
		t.Fatalf("the start was sent (%d) with nobody to ask for the code: the backup codes are gone", n)
	}
}

func TestEnrollYubiOTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	otp := e.Sandbox.YubicoOTP(admin)
	codes := e.Sandbox.BackupCodes(admin)
	e.RunWith(&kittest.Term{Answers: []string{codes[0]}}, "mfa", "methods", "remove", "2")
	// A garbled OTP is refused by the gateway; the next touch works.
	r := e.RunWith(&kittest.Term{Answers: []string{"cccccc", otp}}, "mfa", "enroll", "yubiotp")
	if r.Error != nil || len(r.Prompts) != 2 || !strings.Contains(r.Err, "invalid Yubikey OTP format") {
		t.Fatalf("enroll: %s; prompts %q", r, r.Prompts)
	}
	if !regexp.MustCompile(`^YubiKey enrolled \(method \d+\)\.\n$`).MatchString(r.Out) {
		t.Fatalf("out %q", r.Out)
	}
}

func TestEnrollWebAuthnWithASoftwareKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	key, err := soft.New()
	if err != nil {
		t.Fatal(err)
	}
	e.Core.Authenticator = key
	term := &kittest.Term{Interactive: true}
	r := e.RunWith(term, "mfa", "enroll", "webauthn", "--label", "Blue key")
	if r.Error != nil || !regexp.MustCompile(`^Security key "Blue key" enrolled \(method \d+\)\.\n$`).MatchString(r.Out) {
		t.Fatalf("enroll: %s", r)
	}
	// Enrolled once, the key says so the second time.
	r = e.RunWith(term, "mfa", "enroll", "webauthn")
	if r.Error == nil || !strings.Contains(r.Error.Message, "already enrolled") {
		t.Fatalf("second enrolment: %s", r)
	}
	// And it passes a step-up.
	if _, err := e.Sandbox.ExpireStepUp(admin); err != nil {
		t.Fatal(err)
	}
	before := key.SignCount()
	r = e.RunWith(&kittest.Term{Interactive: true}, "--mfa-method", "webauthn", "mfa", "preferred", "webauthn")
	if r.Error != nil || key.SignCount() != before+1 {
		t.Fatalf("step-up with the new key: %s", r)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
