package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The login in a terminal reads as the product documentation shows it
// (issue 10, "Login texts"): the browser opens, the OAuth leg is reported
// done, the MFA methods the account has are listed, and the terminal takes
// the TOTP code.
func TestLoginTextsLineForLine(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	e := newEnv(t)
	e.sb = sb
	// The methods come from the rack's previous session: before the code
	// the gateway tells nothing about the user.
	softKey(t, e, sb, admin, true)
	e.login("prod", admin)
	auth := filepath.Join(e.root, "auth")
	// $BROWSER is "true": opening the browser succeeds and shows nothing.
	p := e.startPTY("login", "login", "prod", "--auth-file", auth)
	u := waitAuthURL(t, auth, 10*time.Second)
	p.waitText("Opening browser for authentication...", 10*time.Second)
	waitFor(t, "two polls of the pending login", 10*time.Second, func() bool {
		return sb.requests(t)["POST /api/v1/auth/cli/complete"] >= 2
	})
	if p.has("OAuth successful") || p.echoOff() {
		t.Fatalf("the OAuth leg is reported or a code asked before the browser signed in:\n%s", p.Output())
	}
	// The browser signs in and stops at the MFA challenge.
	browse(t, u+"&selected_user="+admin)
	p.waitText("Enter TOTP code:", 10*time.Second)
	p.typeSecret(totpCodes.next(t, sb, admin))
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.Output())
	}
	want := []string{
		"Opening browser for authentication...",
		"OAuth successful",
		"MFA verification required.",
		"Available methods: TOTP, WebAuthn",
		"Enter TOTP code: ",
		"MFA verified",
		"Logged in as " + admin,
	}
	// As the screen shows it: the live wait line is erased (spinner_test.go).
	lines := strings.Split(strings.ReplaceAll(shown(p.Output()), "\r\n", "\n"), "\n")
	start := -1
	for i, l := range lines {
		if l == want[0] {
			start = i
			break
		}
	}
	if start < 0 || len(lines) < start+len(want) {
		t.Fatalf("no transcript on the screen:\n%s", p.Output())
	}
	for i, w := range want {
		if got := lines[start+i]; got != w {
			t.Errorf("line %d: got %q, want %q\nscreen:\n%s", i+1, got, w, p.Output())
		}
	}
	if strings.Contains(p.Output(), "Touch your security key") {
		t.Errorf("the terminal asked for a touch at login:\n%s", p.Output())
	}
	e.mustRun("test-auth")
}
