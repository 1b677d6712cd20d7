package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// The rack-level commands end to end, through the agent: the reads need no
// MFA; PUT /system (params set, scale, update) is step-up, met by
// --mfa-code without a terminal and by one prompt on one; and the rack
// remembers what they set.
func TestRackSystemCommands(t *testing.T) {
	t.Parallel()
	e, sb := convoxEnv(t, admin)
	sb.expireStepUp(t, admin)

	r := e.mustRun("rack", "ps")
	matches(t, "rack ps", r.Out, `(?m)^ID\s+APP\s+SERVICE\s+STATUS\s+RELEASE\s+STARTED\s+COMMAND\n`)
	matches(t, "rack ps", r.Out, `(?m)^api-5c9d7f\s+system\s+api\s+running\s+3\.21\.3\s+3 days ago$`)
	var ps []map[string]any
	r = e.mustRun("rack", "ps", "--all", "--output", "json")
	if err := json.Unmarshal([]byte(r.Out), &ps); err != nil || len(ps) != 4 || ps[2]["app"] != "demo" {
		t.Errorf("rack ps --all --output json: %v\n%s", err, r)
	}
	r = e.mustRun("rack", "releases")
	contains(t, "rack releases", r.Out, "VERSION  UPDATED\n3.21.3   2 days ago\n")
	r = e.mustRun("rack", "params")
	contains(t, "rack params", r.Out, "node_type          t3.small\n", "telemetry          false\n")
	r = e.mustRun("rack", "scale")
	contains(t, "rack scale", r.Out, "Count      2\n", "Status     running\n", "Type       t3.small\n")
	r = e.mustRun("rack", "logs", "--no-follow")
	contains(t, "rack logs", r.Out, " system/k8s rack sandbox running 3.21.3\n")

	// Without a terminal a write fails fast and sends nothing the rack
	// acts on; --mfa-code meets it.
	r = e.run("rack", "params", "set", "telemetry=true")
	if r.Code != 4 {
		t.Fatalf("rack params set without MFA: %s", r)
	}
	r = e.mustRun("rack", "params", "set", "telemetry=true", "--mfa-code", totpCodes.next(t, sb, admin))
	if r.Out != "Updating parameters... OK\n" {
		t.Errorf("rack params set:\n%s", r)
	}
	// The window that code opened covers the next writes. Upstream's
	// --version names the version here; it is not the versions command.
	r = e.mustRun("rack", "update", "--version", "3.21.4", "--wait")
	if r.Out != "Updating to 3.21.4... OK\n" {
		t.Errorf("rack update:\n%s", r)
	}

	// On a terminal the server is asked first; its 401 brings one prompt,
	// on a line of its own, and the step line resumes.
	sb.expireStepUp(t, admin)
	p := e.startPTY("rack-scale", "rack", "scale", "--count", "3", "--type", "t3.large")
	p.waitText("Enter TOTP code:", 10*time.Second)
	if out := p.Output(); !strings.Contains(out, "Scaling rack... \r\nStep-up MFA required for this operation.\r\n") {
		t.Fatalf("the prompt did not start on its own line:\n%q", out)
	}
	p.typeSecret(totpCodes.next(t, sb, admin))
	p.waitText("Scaling rack... OK", 10*time.Second)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.Output())
	}

	r = e.mustRun("rack", "params")
	contains(t, "rack params after set", r.Out, "node_type          t3.large\n", "telemetry          true\n")
	r = e.mustRun("rack", "scale", "--output", "json")
	var s struct {
		Count   int
		Type    string
		Version string
	}
	if err := json.Unmarshal([]byte(r.Out), &s); err != nil || s.Count != 3 || s.Type != "t3.large" || s.Version != "3.21.4" {
		t.Errorf("rack scale --output json: %v %+v\n%s", err, s, r)
	}
	r = e.mustRun("rack", "releases")
	matches(t, "rack releases after update", r.Out, `^VERSION  UPDATED\n3\.21\.4  +\S.*\n3\.21\.3  +2 days ago\n$`)
	r = e.mustRun("rack", "logs", "--no-follow", "--filter", "rack update")
	contains(t, "rack logs --filter", r.Out, "rack update: parameters telemetry\n", "rack update: version=3.21.4\n",
		"rack update: count=3 type=t3.large\n")
	if n := sb.replays(t); n != 0 {
		t.Errorf("%d replayed TOTP steps", n)
	}
}

// rack logs follows by default, as upstream does, until Ctrl-C, which
// ends it with exit 0.
func TestRackLogsFollowsUntilCtrlC(t *testing.T) {
	t.Parallel()
	e, _ := convoxEnv(t, admin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.cmd(ctx, "rack", "logs")
	out, errb, wait := e.start(c)
	waitFor(t, "followed lines", 15*time.Second, func() bool { return strings.Contains(out.String(), "heartbeat 2") })
	_ = c.Process.Signal(os.Interrupt)
	if r := wait(); r.Code != 0 {
		t.Fatalf("Ctrl-C: %s\nstderr:\n%s", r, errb.String())
	}
	if !strings.Contains(out.String(), " system/k8s instance i-0a1b2c3d4e5f60718 healthy\n") {
		t.Errorf("rack logs:\n%s", out.String())
	}
}
