package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// noticeRE is the renewal line, with the seconds left.
var noticeRE = regexp.MustCompile(`(?m)^Step-up window for prod expires in (\d+)s$`)

// notices returns the seconds of every renewal line in s.
func notices(s string) []int {
	var out []int
	for _, m := range noticeRE.FindAllStringSubmatch(s, -1) {
		n, _ := strconv.Atoi(m[1])
		out = append(out, n)
	}
	return out
}

// A short window (50 s, the sandbox's knob): the first command in its last
// minute says when it ends, once, whichever command comes next; mfa renew
// opens a new window, announced once again; stepup_notice_seconds 0 turns
// the line off.
func TestRenewalNoticeOncePerWindow(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, "--step-up-window", "50s")
	e := newEnv(t)
	e.sb = sb
	if got := notices(e.login("prod", admin).Err); len(got) != 0 {
		t.Fatalf("login announced the window it opened: %v", got)
	}

	// The login opened a 50 s window: it is in its last minute at once.
	first := e.mustRun("apps")
	got := notices(first.Err)
	if len(got) != 1 || got[0] < 1 || got[0] > 60 {
		t.Fatalf("first command: want one notice within the last minute, got %v:\n%s", got, first)
	}
	for _, args := range [][]string{{"apps"}, {"racks"}, {"test-auth"}} {
		if r := e.mustRun(args...); len(notices(r.Err)) != 0 {
			t.Fatalf("%v: a second notice for one window:\n%s", args, r)
		}
	}

	renew := e.mustRun("mfa", "renew", "--mfa-code", totpCodes.next(t, sb, admin))
	contains(t, "renew", renew.Out, "Step-up window for prod renewed: expires in")
	if n := notices(renew.Err); len(n) != 0 {
		t.Errorf("renew announced the end of the window it replaced: %v", n)
	}
	if got := notices(e.mustRun("apps").Err); len(got) != 1 {
		t.Fatalf("the renewed window: %v notices, want 1", got)
	}
	if got := notices(e.mustRun("apps").Err); len(got) != 0 {
		t.Fatalf("the renewed window announced twice: %v", got)
	}

	// Turned off in config.json: the agent reads the file again.
	path := filepath.Join(e.Config, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["stepup_notice_seconds"] = 0
	data, _ = json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	e.mustRun("mfa", "renew", "--mfa-code", totpCodes.next(t, sb, admin))
	if r := e.mustRun("apps"); len(notices(r.Err)) != 0 {
		t.Fatalf("a notice with stepup_notice_seconds 0:\n%s", r)
	}
}
