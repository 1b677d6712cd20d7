package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The attempt ledger's promise, tested with the real binaries: whatever the
// user runs (--mfa-code, restarts, --no-agent, lost answers, a killed
// agent), the agent never puts on the wire the code that would lock the
// account or trip the gateway's rate limit, and never sends a code twice.

const verifyRoute = "POST /api/v1/auth/mfa/verify"

// userMFA is the sandbox's view of a user's MFA attempts.
type userMFA struct {
	Locked   bool `json:"locked"`
	Attempts []struct {
		Factor  string `json:"factor"`
		Success bool   `json:"success"`
		Reason  string `json:"reason"`
	} `json:"attempts"`
}

func (sb *sandbox) userMFA(t testing.TB, email string) userMFA {
	t.Helper()
	var out userMFA
	sb.call(t, "GET", "/_sandbox/users/"+email+"/mfa", nil, &out)
	return out
}

func (sb *sandbox) fault(t testing.TB, f map[string]any) {
	t.Helper()
	sb.call(t, "POST", "/_sandbox/faults", f, nil)
}

// ledgerFile is the environment's attempt ledger.
func (e *env) ledgerFile() string { return filepath.Join(e.State, "rack-gateway", "mfa-ledger.json") }

// ledgerOutcomes counts the outcomes recorded in the ledger file.
func (e *env) ledgerOutcomes(t testing.TB) map[string]int {
	t.Helper()
	data, err := os.ReadFile(e.ledgerFile())
	if os.IsNotExist(err) {
		return map[string]int{}
	}
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Users map[string][]struct {
			Outcome string `json:"outcome"`
		} `json:"users"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("ledger: %v: %s", err, data)
	}
	n := map[string]int{}
	for _, as := range f.Users {
		for _, a := range as {
			n[a.Outcome]++
		}
	}
	return n
}

// Seven wrong --mfa-code runs, with two agent restarts and a --no-agent run
// among them: four codes reach the gateway, the account stays unlocked,
// and every refused run says nothing was sent and when to retry.
func TestWrongCodesNeverLockTheAccount(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	before := sb.requests(t)[verifyRoute]
	for i := 0; i < 7; i++ {
		sb.expireStepUp(t, admin)
		switch i {
		case 2, 5:
			e.mustRun("agent", "stop")
		}
		args := []string{"env", "set", "A=B", "-a", "demo", "--mfa-code", fmt.Sprintf("00000%d", i)}
		if i == 3 {
			args = append(args, "--no-agent")
		}
		r := e.run(args...)
		if r.Code == 0 {
			t.Fatalf("run %d with a wrong code succeeded: %s", i, r)
		}
		if i >= 4 {
			contains(t, fmt.Sprintf("refused run %d", i), r.Err, "Nothing was sent", "Try again in")
		} else if !strings.Contains(r.Err, "refused the MFA code given with --mfa-code") {
			t.Errorf("run %d: %s", i, r.Err)
		}
		if strings.Contains(r.Err, "pass a code with --mfa-code") {
			t.Errorf("run %d tells the user to do what they just did: %s", i, r.Err)
		}
	}
	if d := sb.requests(t)[verifyRoute] - before; d != 4 {
		t.Errorf("%d codes reached the gateway, want 4", d)
	}
	if st := sb.userMFA(t, admin); st.Locked {
		t.Fatalf("the account was locked: %+v", st)
	}
	e.mustRun("test-auth")
}

// The gateway counts successes toward its 5-in-5-minutes limit and records
// its refusal as a failure: after five accepted codes, a sixth is refused
// locally and nothing is sent.
func TestSuccessesCountTowardTheRateLimit(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	before := sb.requests(t)[verifyRoute]
	for i := 0; i < 5; i++ {
		sb.expireStepUp(t, admin)
		e.mustRun(append(stepUpCmd, "--mfa-code", natBackupCode(admin, i))...)
	}
	sb.expireStepUp(t, admin)
	r := e.run(append(stepUpCmd, "--mfa-code", natBackupCode(admin, 5))...)
	if r.Code == 0 {
		t.Fatalf("a sixth code within 5 minutes was sent: %s", r)
	}
	contains(t, "sixth code", r.Err, "Nothing was sent", "Try again in")
	if d := sb.requests(t)[verifyRoute] - before; d != 5 {
		t.Errorf("%d verifications reached the gateway, want 5", d)
	}
	for _, a := range sb.userMFA(t, admin).Attempts {
		if a.Reason == "rate_limited" {
			t.Errorf("the gateway recorded a rate-limited attempt")
		}
	}
}

// A verify the gateway processed but answered with 502 is counted: its
// code is never sent again.
func TestLostAnswerIsCounted(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	code := totpCodes.next(t, sb, admin)
	sb.fault(t, map[string]any{"method": "POST", "path": "/api/v1/auth/mfa/verify", "status": 502, "after": true})
	r := e.run(append(stepUpCmd, "--mfa-code", code)...)
	if r.Code == 0 {
		t.Fatalf("a 502 from the verify passed: %s", r)
	}
	contains(t, "502", r.Err, "counted as spent")
	if n := e.ledgerOutcomes(t)["rejected"]; n != 1 {
		t.Errorf("ledger has %d rejected attempts, want the lost one", n)
	}
	before := sb.requests(t)[verifyRoute]
	sb.expireStepUp(t, admin)
	r = e.run(append(stepUpCmd, "--mfa-code", code)...)
	if r.Code == 0 || !strings.Contains(r.Err, "already used") {
		t.Fatalf("the code of the lost answer was sent again: %s", r)
	}
	if d := sb.requests(t)[verifyRoute] - before; d != 0 {
		t.Errorf("%d verifications after the refusal", d)
	}
	if n := sb.replays(t); n != 0 {
		t.Errorf("%d replayed TOTP steps", n)
	}
}

// The code typed at login and a step-up's --mfa-code go through one
// ledger: the login's code is refused locally when given again.
func TestLoginAndStepUpShareTheLedger(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	e := newEnv(t)
	e.sb = sb
	auth := e.root + "/auth"
	p := e.startPTY("login", "login", "prod", sb.URL, "--no-open", "--auth-file", auth)
	u := waitAuthURL(t, auth, 10*time.Second)
	browse(t, u+"&selected_user="+admin)
	p.waitText("Enter TOTP code:", 10*time.Second)
	code := totpCodes.next(t, sb, admin)
	p.typeSecret(code)
	if c := p.wait(15 * time.Second); c != 0 {
		t.Fatalf("login exit %d\n%s", c, p.Output())
	}
	contains(t, "login", p.Output(), "MFA verified")
	sb.expireStepUp(t, admin)
	before := sb.requests(t)[verifyRoute]
	r := e.run(append(stepUpCmd, "--mfa-code", code)...)
	if r.Code == 0 || !strings.Contains(r.Err, "already used") {
		t.Fatalf("the login's code was accepted for sending again: %s", r)
	}
	if d := sb.requests(t)[verifyRoute] - before; d != 0 {
		t.Errorf("the login's code reached the verify endpoint %d times", d)
	}
}

// An agent SIGKILLed right after it sent a code leaves the attempt in the
// ledger: the next agent refuses to send that code again.
func TestKilledAgentLeavesTheAttemptInTheLedger(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	code := totpCodes.next(t, sb, admin)
	sb.fault(t, map[string]any{"method": "POST", "path": "/api/v1/auth/mfa/verify", "delay_ms": 20000})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.cmd(ctx, append(stepUpCmd, "--mfa-code", code)...)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the attempt in the ledger", 10*time.Second, func() bool { return e.ledgerOutcomes(t)["pending"] == 1 })
	pid := e.agentPID()
	if pid == 0 {
		t.Fatal("no agent")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Wait(); err == nil {
		t.Fatal("the command succeeded although its agent was killed")
	}
	t.Logf("the CLI reported the killed agent after %s", time.Since(start).Round(time.Millisecond))
	sb.call(t, "DELETE", "/_sandbox/faults", nil, nil)
	r := e.run(append(stepUpCmd, "--mfa-code", code)...)
	if r.Code == 0 || !strings.Contains(r.Err, "already used") {
		t.Fatalf("after the kill the same code was sent again: %s", r)
	}
	// The pending attempt counts as refused, but one does not block.
	e.mustRun(append(stepUpCmd, "--mfa-code", totpCodes.next(t, sb, admin))...)
}

// The proxy asks for MFA before it refuses a missing permission; the agent
// checks the user's permissions first, so a deployer's "apps delete" ends
// with the permission error, no prompt and no attempt spent.
func TestPermissionRefusedBeforeAnyPrompt(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	e := newEnv(t)
	e.sb = sb
	e.login("prod", natDeployer)
	sb.expireStepUp(t, natDeployer)
	before := sb.requests(t)[verifyRoute]
	p := e.startPTY("delete", "apps", "delete", "demo")
	if code := p.wait(15 * time.Second); code != 1 {
		t.Fatalf("exit %d\n%s", code, p.Output())
	}
	out := p.Output()
	contains(t, "deployer apps delete", out, "Error: permission denied", "convox:app:delete", "no MFA code was asked for")
	if strings.Contains(out, "Enter TOTP code") || strings.Contains(out, "Step-up MFA required") {
		t.Errorf("the deployer was asked for a code:\n%s", out)
	}
	if d := sb.requests(t)[verifyRoute] - before; d != 0 {
		t.Errorf("%d verifications", d)
	}
	if n := e.ledgerOutcomes(t); len(n) != 0 {
		t.Errorf("attempts recorded: %v", n)
	}
}

// A window shorter than the safety margin still serves the terminal that
// opened it and the seven that waited for it.
func TestEightTerminalsShareAShortWindow(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t, "--step-up-window", "5s")
	eightTerminals(t, e, sb)
}
