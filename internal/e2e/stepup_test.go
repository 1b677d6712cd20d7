package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/ipc"
)

const admin = "admin@example.com"

// stepUpCmd is a step-up-level action on the rack proxy (release:create).
var stepUpCmd = []string{"api", "-X", "POST", "/apps/demo/releases", "-f", "description=e2e"}

// mfaEnv is a logged-in user on a private sandbox whose step-up window the
// test has closed.
func mfaEnv(t *testing.T, extra ...string) (*env, *sandbox) {
	sb := newSandbox(t, extra...)
	e := newEnv(t)
	e.sb = sb
	e.login("prod", admin)
	sb.expireStepUp(t, admin)
	return e, sb
}

func TestStepUpPromptsOnceThenRidesTheWindow(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	p := e.startPTY("term1", stepUpCmd...)
	p.waitText("Step-up MFA required for this operation.", 10*time.Second)
	p.waitText("Enter TOTP code:", 5*time.Second)
	p.typeSecret("000000")
	p.waitText("Invalid code", 5*time.Second)
	p.typeSecret(totpCodes.next(t, sb, admin))
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.Output())
	}
	out := p.Output()
	if strings.Count(out, "Enter TOTP code:") != 2 || !strings.Contains(out, "MFA verified") {
		t.Fatalf("want two prompts (one wrong code) and MFA verified:\n%s", out)
	}
	if strings.Contains(out, "000000") {
		t.Error("a code was echoed")
	}

	before := sb.requests(t)
	r := e.mustRun(stepUpCmd...) // stdin is not a terminal: no prompt possible
	after := sb.requests(t)
	if strings.Contains(r.Err, "Enter TOTP") {
		t.Errorf("second command prompted:\n%s", r)
	}
	for k, v := range after {
		d := v - before[k]
		switch {
		case k == "POST /api/v1/rack-proxy/apps/demo/releases" && d != 1:
			t.Errorf("%s: %d requests, want 1", k, d)
		case k != "POST /api/v1/rack-proxy/apps/demo/releases" && d != 0:
			t.Errorf("a fresh window cost an extra request: %s ×%d", k, d)
		}
	}
	if n := sb.replays(t); n != 0 {
		t.Errorf("the sandbox saw %d replayed TOTP steps", n)
	}
}

func TestEightTerminalsShareOnePrompt(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	eightTerminals(t, e, sb)
}

// eightTerminals runs one step-up command in eight terminals at once:
// exactly one prompts, the other seven wait for it and use the window it
// opens, and all eight finish.
func eightTerminals(t *testing.T, e *env, sb *sandbox) {
	t.Helper()
	e.mustRun("racks") // the agent is up before the race starts
	const n = 8
	terms := make([]*ptyTerm, n)
	for i := range terms {
		terms[i] = e.startPTY(fmt.Sprintf("term%d", i+1), stepUpCmd...)
	}
	prompting := waitOnePrompt(t, terms, 15*time.Second)
	// Every other terminal asked the server first, was refused for lack
	// of MFA, and now waits on the one prompt.
	waitFor(t, "seven waiting terminals", 15*time.Second, func() bool {
		w := 0
		for _, p := range terms {
			if p != prompting && p.has("Waiting for MFA verification in another terminal") {
				w++
			}
		}
		return w == n-1
	})
	prompting.typeSecret(totpCodes.next(t, sb, admin))
	prompts := 0
	for _, p := range terms {
		if code := p.wait(20 * time.Second); code != 0 {
			t.Errorf("%s exit %d:\n%s", p.name, code, p.Output())
		}
		out := p.Output()
		prompts += strings.Count(out, "Enter TOTP code:")
		if p != prompting && !strings.Contains(out, "Using the MFA window opened by") {
			t.Errorf("%s did not say it used the other terminal's window:\n%s", p.name, out)
		}
	}
	if prompts != 1 {
		t.Fatalf("%d prompts for %d terminals, want 1", prompts, n)
	}
	if d := sb.replays(t); d != 0 {
		t.Errorf("%d replayed TOTP steps", d)
	}
}

func TestCancelledPromptHandsOver(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	e.mustRun("racks")
	a := e.startPTY("first", stepUpCmd...)
	a.waitText("Enter TOTP code:", 10*time.Second)
	b := e.startPTY("second", stepUpCmd...)
	b.waitText("Waiting for MFA verification in another terminal", 10*time.Second)
	a.waitEchoOff()
	a.interrupt()
	if code := a.wait(10 * time.Second); code != ipc.ExitInterrupted {
		t.Errorf("cancelled terminal exit %d:\n%s", code, a.Output())
	}
	if a.echoOff() {
		t.Error("the cancelled terminal was left with echo off")
	}
	b.waitText("Enter TOTP code:", 10*time.Second)
	b.typeSecret(totpCodes.next(t, sb, admin))
	if code := b.wait(10 * time.Second); code != 0 {
		t.Fatalf("second terminal exit %d:\n%s", code, b.Output())
	}
}

func TestAlwaysNeedsAProofEachTime(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	for i := 1; i <= 2; i++ {
		create := []string{"api", "-X", "POST", "/api/v1/api-tokens", "-d", fmt.Sprintf(`{"name":"ci-%d","permissions":["convox:app:list"]}`, i)}
		p := e.startPTY(fmt.Sprintf("always%d", i), create...)
		p.waitText("MFA verification required.", 10*time.Second)
		p.waitText("TOTP code", 5*time.Second)
		p.typeSecret(totpCodes.next(t, sb, admin))
		if code := p.wait(10 * time.Second); code != 0 {
			t.Fatalf("always #%d exit %d:\n%s", i, code, p.Output())
		}
		if !strings.Contains(p.Output(), "rgw_") {
			t.Errorf("no token in the answer:\n%s", p.Output())
		}
	}
	if n := sb.replays(t); n != 0 {
		t.Errorf("a TOTP step was sent twice (%d replays)", n)
	}
}

func TestNonInteractiveFailsFastWithRemedies(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	before := sb.requests(t)["POST /api/v1/auth/mfa/verify"]
	r := e.run(stepUpCmd...)
	if r.Code != ipc.ExitStepUp {
		t.Fatalf("exit %d, want %d:\n%s", r.Code, ipc.ExitStepUp, r)
	}
	if !strings.HasPrefix(r.Err, "Error: Step-up required but no interactive terminal") {
		t.Errorf("message:\n%s", r.Err)
	}
	contains(t, "remedies", r.Err, "API token", "--mfa-code")
	if strings.Contains(r.Err, "Enter TOTP") || sb.requests(t)["POST /api/v1/auth/mfa/verify"] != before {
		t.Errorf("prompted or verified:\n%s", r)
	}
	// RACK_GATEWAY_NONINTERACTIVE=1 holds even in a terminal.
	e.set("RACK_GATEWAY_NONINTERACTIVE", "1")
	p := e.startPTY("noninteractive", stepUpCmd...)
	if code := p.wait(10 * time.Second); code != ipc.ExitStepUp {
		t.Errorf("in a pty with RACK_GATEWAY_NONINTERACTIVE=1: exit %d\n%s", code, p.Output())
	}
	// --mfa-code is the proof, no prompt needed.
	r = e.run(append(stepUpCmd, "--mfa-code", totpCodes.next(t, sb, admin))...)
	if r.Code != 0 {
		t.Fatalf("--mfa-code: %s", r)
	}
}

func TestLockoutGuardStopsBeforeTheFifthFailure(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	p := e.startPTY("guard", stepUpCmd...)
	for i := 0; i < 4; i++ {
		p.waitText("Enter TOTP code:", 10*time.Second)
		want := i + 1
		p.typeSecret(fmt.Sprintf("00000%d", i))
		if !poll(10*time.Second, func() bool {
			return strings.Count(p.Output(), "Invalid code") >= want || strings.Contains(p.Output(), "Nothing was sent")
		}) {
			t.Fatalf("no answer to wrong code %d:\n%s", want, p.Output())
		}
	}
	if code := p.wait(10 * time.Second); code == 0 {
		t.Fatalf("succeeded after 4 wrong codes:\n%s", p.Output())
	}
	contains(t, "guard", p.Output(), "Nothing was sent", "would lock your account", "Try again in")
	// A second command within 5 minutes is refused without sending a code.
	q := e.startPTY("guard2", stepUpCmd...)
	if code := q.wait(10 * time.Second); code == 0 || strings.Contains(q.Output(), "Enter TOTP code:") {
		t.Errorf("second command: exit %d\n%s", code, q.Output())
	}
	// The user is not locked: the session still works.
	e.mustRun("test-auth")
	_ = sb
}

// A window that ran out on both sides, the server's and the agent's: the
// next step-up action prompts again and sends a new code. The server's
// window is closed with the sandbox's knob, as if its length had passed;
// the agent's runs out on its own clock, which a 2 s window makes quick
// (and which the test polls for: the agent has no knob).
func TestExpiredWindowIsReopenedWithANewCode(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t, "--step-up-window", "2s")
	p := e.startPTY("open", stepUpCmd...)
	p.waitText("Enter TOTP code:", 10*time.Second)
	p.typeSecret(totpCodes.next(t, sb, admin))
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.Output())
	}
	sb.expireStepUp(t, admin)
	waitFor(t, "the agent to see its window expire", 10*time.Second, func() bool {
		st, err := e.client().Status(context.Background())
		return err == nil && len(st.Racks) == 1 && !st.Racks[0].Window.Active
	})
	q := e.startPTY("reopen", stepUpCmd...)
	q.waitText("Enter TOTP code:", 10*time.Second)
	q.typeSecret(totpCodes.next(t, sb, admin))
	if code := q.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, q.Output())
	}
	if n := sb.replays(t); n != 0 {
		t.Errorf("the expired window was re-opened with a replayed code (%d replays)", n)
	}
}

// waitOnePrompt waits until one terminal prompts and returns it.
func waitOnePrompt(t *testing.T, terms []*ptyTerm, d time.Duration) *ptyTerm {
	t.Helper()
	var found []*ptyTerm
	if poll(d, func() bool {
		found = found[:0]
		for _, p := range terms {
			if p.has("Enter TOTP code:") {
				found = append(found, p)
			}
		}
		return len(found) > 0
	}) {
		if len(found) > 1 {
			t.Fatalf("%d terminals prompted", len(found))
		}
		return found[0]
	}
	var b strings.Builder
	for _, p := range terms {
		b.WriteString(p.name + ":\n" + p.Output() + "\n")
	}
	t.Fatalf("no terminal prompted:\n%s", b.String())
	return nil
}

var _ sync.Mutex

func TestLoginMFAInTheTerminal(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	e := newEnv(t)
	e.sb = sb
	auth := e.root + "/auth"
	p := e.startPTY("login", "login", "prod", sb.URL, "--no-open", "--auth-file", auth)
	u := waitAuthURL(t, auth, 10*time.Second)
	// Before the browser leg no code is asked for: it could only be
	// refused.
	waitFor(t, "two polls of the pending login", 10*time.Second, func() bool {
		return sb.requests(t)["POST /api/v1/auth/cli/complete"] >= 2
	})
	if p.echoOff() || p.has("Enter TOTP code:") {
		t.Fatalf("a code asked for before the browser leg:\n%s", p.Output())
	}
	// The browser signs in but stops at the MFA challenge (no mfa=auto).
	browse(t, u+"&selected_user="+admin)
	p.waitText("Enter TOTP code:", 10*time.Second)
	p.typeSecret(totpCodes.next(t, sb, admin))
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.Output())
	}
	contains(t, "login", p.Output(), "OAuth successful", "MFA verification required.", "MFA verified", "Logged in as admin@example.com")
	// A first login knows no methods, and --no-open shows the URL.
	if strings.Contains(p.Output(), "Available methods") || !strings.Contains(p.Output(), "Open this URL in your browser") {
		t.Errorf("first login's screen:\n%s", p.Output())
	}
	e.mustRun("test-auth")
}

// The server closes the window while the agent still thinks it is open (an
// admin shortened it, or it ran out mid-command): the 401 carrying
// X-MFA-Required makes the agent step up once, with a new code, and retry.
func TestServerClosedWindowTriggersOneStepUpAndRetry(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	p := e.startPTY("open", stepUpCmd...)
	p.waitText("Enter TOTP code:", 10*time.Second)
	p.typeSecret(totpCodes.next(t, sb, admin))
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.Output())
	}
	sb.expireStepUp(t, admin)
	before := sb.requests(t)["POST /api/v1/rack-proxy/apps/demo/releases"]
	q := e.startPTY("reactive", stepUpCmd...)
	q.waitText("Enter TOTP code:", 10*time.Second)
	q.typeSecret(totpCodes.next(t, sb, admin))
	if code := q.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, q.Output())
	}
	if d := sb.requests(t)["POST /api/v1/rack-proxy/apps/demo/releases"] - before; d != 2 {
		t.Errorf("want the refused request and one retry, got %d requests", d)
	}
	if n := sb.replays(t); n != 0 {
		t.Errorf("%d replayed TOTP steps", n)
	}
}

// test-auth mfa is a preflight: it prints the MFA block from the status,
// needs no terminal and sends no code; test-auth totp runs a verification.
func TestTestAuthMFAIsAPreflight(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	e.mustRun(append(stepUpCmd, "--mfa-code", totpCodes.next(t, sb, admin))...) // an active window
	before := sb.requests(t)["POST /api/v1/auth/mfa/verify"]
	r := e.run("test-auth", "mfa") // stdin is not a terminal
	if r.Code != 0 {
		t.Fatalf("test-auth mfa without a terminal: %s", r)
	}
	contains(t, "test-auth mfa", r.Out, "Authenticated as admin@example.com\n", "Role: admin\n",
		"MFA enrolled: Yes\n", "MFA methods: TOTP", "Last MFA verification: ", "Step-up window: Active (expires in")
	if d := sb.requests(t)["POST /api/v1/auth/mfa/verify"] - before; d != 0 {
		t.Errorf("test-auth mfa sent %d verifications", d)
	}

	sb.expireStepUp(t, admin)
	p := e.startPTY("test-auth", "test-auth", "totp")
	p.waitText("Enter TOTP code:", 10*time.Second)
	p.typeSecret(totpCodes.next(t, sb, admin))
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.Output())
	}
	contains(t, "test-auth totp", p.Output(), "Step-up window: Expired", "Running a TOTP verification",
		"MFA verified", "Step-up window: Active (expires in")
}
