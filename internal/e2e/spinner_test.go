package e2e

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// spinFrame is one drawing of a live line: the line erased, a glyph
// (coloured or not), the text.
var spinFrame = regexp.MustCompile(`\r\x1b\[K(?:\x1b\[36m)?([⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏])(?:\x1b\[0m)? ([^\r]*)`)

// frames returns the distinct glyphs drawn with a text containing text.
func frames(transcript, text string) map[string]bool {
	out := map[string]bool{}
	for _, m := range spinFrame.FindAllStringSubmatch(transcript, -1) {
		if strings.Contains(m[2], text) {
			out[m[1]] = true
		}
	}
	return out
}

// shown is a transcript as the terminal shows it once the live lines are
// gone: on each line, only what follows the last erase.
func shown(transcript string) string {
	lines := strings.Split(transcript, "\n")
	for i, l := range lines {
		if j := strings.LastIndex(l, "\r\x1b[K"); j >= 0 {
			lines[i] = l[j+len("\r\x1b[K"):]
		}
	}
	return strings.Join(lines, "\n")
}

// The login's wait for the browser, in a terminal: a live line that turns
// and counts down; NO_COLOR leaves it uncoloured.
func TestLoginWaitSpinsInATerminal(t *testing.T) {
	t.Parallel()
	for _, noColor := range []bool{false, true} {
		name := map[bool]string{false: "colour", true: "NO_COLOR"}[noColor]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if noColor {
				e.set("NO_COLOR", "1")
			}
			authFile := filepath.Join(e.root, "auth")
			p := e.startPTY("login", "login", "prod", e.sb.URL, "--no-open", "--auth-file", authFile)
			authURL := waitAuthURL(t, authFile, 20*time.Second)
			const text = "Waiting for login to complete in your browser ("
			// Liveness: the glyph has turned at least once.
			if !poll(20*time.Second, func() bool { return len(frames(p.Output(), text)) >= 2 }) {
				t.Fatalf("no turning live line; screen:\n%q", p.Output())
			}
			browse(t, authURL+"&selected_user="+admin+"&mfa=auto")
			if code := p.wait(30 * time.Second); code != 0 {
				t.Fatalf("login exit %d:\n%q", code, p.Output())
			}
			out := p.Output()
			contains(t, "transcript", out, "left; Ctrl-C to cancel)...", "Logged in as "+admin)
			if !regexp.MustCompile(`\(1m5\d+s left; Ctrl-C to cancel\)|\(2m00s left`).MatchString(out) {
				t.Errorf("no countdown from two minutes:\n%q", out)
			}
			if colour := strings.Contains(out, "\x1b[36m"); colour == noColor {
				t.Errorf("colour %v with NO_COLOR=%v:\n%q", colour, noColor, out)
			}
		})
	}
	// Piped, the wait is the one line it always was.
	t.Run("piped", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		// Browse only once the wait has begun: a browser quicker than the
		// first poll would leave no wait to print.
		authFile := filepath.Join(e.root, "auth")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_, errb, wait := e.start(e.cmd(ctx, "login", "prod", e.sb.URL, "--no-open", "--auth-file", authFile))
		authURL := waitAuthURL(t, authFile, 20*time.Second)
		waitFor(t, "the piped wait line", 20*time.Second, func() bool {
			return strings.Contains(errb.String(), "Waiting for login")
		})
		browse(t, authURL+"&selected_user="+admin+"&mfa=auto")
		r := wait()
		if r.Code != 0 {
			t.Fatalf("login: %s", r)
		}
		if strings.Count(r.Err, "Waiting for login") != 1 || strings.ContainsAny(r.Err, "\r\x1b") {
			t.Fatalf("piped stderr:\n%q", r.Err)
		}
	})
}

// A terminal waiting for another terminal's prompt: a live line naming the
// holder and the wait, left as one line once the window is open. Piped,
// the same wait is the single line.
func TestWaitingForAnotherTerminalSpins(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	a := e.startPTY("holder", stepUpCmd...)
	a.waitText("Enter TOTP code:", 10*time.Second)
	b := e.startPTY("waiter", stepUpCmd...)
	const text = "Waiting for MFA verification in another terminal (/dev/pts/"
	if !poll(10*time.Second, func() bool { return len(frames(b.Output(), text)) >= 2 }) {
		t.Fatalf("no turning live line in the waiting terminal:\n%q", b.Output())
	}
	if !strings.Contains(b.Output(), "rack-gateway api)... 0s") {
		t.Errorf("the live line does not name the holder's command and the wait:\n%q", b.Output())
	}
	// A third command, piped: one plain line while it waits.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, pipedErr, pipedWait := e.start(e.cmd(ctx, stepUpCmd...))
	waitFor(t, "the piped command to wait", 10*time.Second, func() bool {
		return strings.Contains(pipedErr.String(), "Waiting for MFA verification in another terminal")
	})
	a.typeSecret(totpCodes.next(t, sb, admin))
	for _, p := range []*ptyTerm{a, b} {
		if code := p.wait(20 * time.Second); code != 0 {
			t.Fatalf("%s exit %d:\n%q", p.name, code, p.Output())
		}
	}
	piped := pipedWait()
	out := b.Output()
	if !regexp.MustCompile(`\r\x1b\[KWaiting for MFA verification in another terminal \(/dev/pts/\d+, rack-gateway api\)\.\.\. \d+s\r\n`).MatchString(out) {
		t.Errorf("the wait was not left as one line:\n%q", out)
	}
	contains(t, "waiter", out, "Using the MFA window opened by")
	if piped.Code != 0 || strings.Count(piped.Err, "Waiting for MFA verification") != 1 || strings.ContainsAny(piped.Err, "\r\x1b") {
		t.Errorf("piped: want one plain line:\n%s", piped)
	}
}
