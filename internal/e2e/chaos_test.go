package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/ipc"
)

// The agent is SIGKILLed in the middle of a command, twenty times over,
// while the command streams (logs -f), waits at a prompt for an MFA code,
// or has a request in flight at the gateway. Each time the CLI must say
// so within a second and fail, the next command must start a new agent,
// and the session must survive: nothing asks to log in again
// (docs/architecture.md, "Failure behaviour").

// chaosReport is how long the CLI may take to report its agent's death:
// the kernel closes the agent's end of the socket at once, so this is
// the CLI reading EOF and printing, not a timeout.
const chaosReport = time.Second

// chaosKills is how many times the agent is killed.
const chaosKills = 20

// A chaos kind starts a command and returns once it is in the state to
// kill the agent in, with a way to wait for the CLI's result.
type chaosKind struct {
	name  string
	start func(t *testing.T) (wait func() result, after func(t *testing.T))
}

func TestChaosKillAgentMidCommand(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	e := newEnv(t)
	e.sb = sb
	e.login("prod", admin)
	// No code is ever given, so the window stays closed and every
	// step-up command prompts.
	sb.expireStepUp(t, admin)

	kinds := []chaosKind{
		{"stream", func(t *testing.T) (func() result, func(*testing.T)) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			out, _, wait := e.start(e.cmd(ctx, "logs", "-a", "demo", "-f"))
			waitFor(t, "logs -f to stream", 10*time.Second, func() bool { return strings.Contains(out.String(), "service/web/") })
			return func() result { defer cancel(); return wait() }, nil
		}},
		{"prompt", func(t *testing.T) (func() result, func(*testing.T)) {
			p := e.startPTY("chaos-prompt", stepUpCmd...)
			p.waitText("Enter TOTP code:", 10*time.Second)
			p.waitEchoOff()
			wait := func() result {
				code := p.wait(10 * time.Second)
				return result{Code: code, Err: p.Output()}
			}
			after := func(t *testing.T) {
				if p.echoOff() {
					t.Errorf("the prompt's terminal was left without echo:\n%s", p.Output())
				}
			}
			return wait, after
		}},
		{"request", func(t *testing.T) (func() result, func(*testing.T)) {
			sb.fault(t, map[string]any{"method": "GET", "path": "/api/v1/rack-proxy/apps", "delay_ms": 20000})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, _, wait := e.start(e.cmd(ctx, "apps"))
			// The sandbox takes the fault when the request arrives, and
			// then holds it: an empty fault list means a request in flight.
			waitFor(t, "the request to reach the gateway", 10*time.Second, func() bool { return len(sb.faults(t)) == 0 })
			return func() result { defer cancel(); return wait() }, nil
		}},
	}

	e.mustRun("racks") // an agent to kill first
	pid := e.agentPID()
	var worst time.Duration
	for i := 0; i < chaosKills; i++ {
		k := kinds[i%len(kinds)]
		wait, after := k.start(t)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill #%d (%s): %v", i+1, k.name, err)
		}
		killed := time.Now()
		r := wait()
		took := time.Since(killed)
		worst = max(worst, took)
		what := fmt.Sprintf("kill #%d (%s)", i+1, k.name)
		if took > chaosReport {
			t.Errorf("%s: the CLI took %s to report the agent's death, want < %s", what, took.Round(time.Millisecond), chaosReport)
		}
		if r.Code != ipc.ExitUnavailable {
			t.Errorf("%s: exit %d, want %d\n%s", what, r.Code, ipc.ExitUnavailable, r)
		}
		contains(t, what, r.Err, "Error: lost the connection to the agent", "may not have finished")
		if after != nil {
			after(t)
		}
		waitFor(t, "the killed agent to be gone", 5*time.Second, func() bool { return !pidAlive(pid) })

		// The next command starts a new agent, which finds the session.
		next := e.run("test-auth")
		if next.Code != 0 || strings.Contains(next.Err, "login") {
			t.Fatalf("%s: the command after the kill: %s", what, next)
		}
		np := e.agentPID()
		if np == 0 || np == pid {
			t.Fatalf("%s: no new agent (old pid %d, now %d)", what, pid, np)
		}
		pid = np
	}
	t.Logf("%d kills; the slowest report took %s", chaosKills, worst.Round(time.Millisecond))
	if n := sb.replays(t); n != 0 {
		t.Errorf("%d replayed TOTP steps", n)
	}
}

// faults lists the sandbox's armed faults.
func (sb *sandbox) faults(t testing.TB) []map[string]any {
	t.Helper()
	var out struct {
		Faults []map[string]any `json:"faults"`
	}
	sb.call(t, "GET", "/_sandbox/faults", nil, &out)
	return out.Faults
}
