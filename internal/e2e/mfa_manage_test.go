package e2e

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/boombuler/barcode/qr"
	"github.com/pquerna/otp"
	totplib "github.com/pquerna/otp/totp"
)

// `rack-gateway mfa` end to end. The QR code a terminal shows is read back
// here without the CLI's code: each half-block glyph is two modules, the
// quiet zone is cut at the code's own corners (its finder patterns), and
// the modules must equal boombuler's encoding of the URI the command
// printed, so a scanner decodes exactly that URI. That the URI is the
// gateway's is proven by confirming with a code from its secret.

// ansiInk is the QR code's colour: every line of the code starts with it.
const ansiInk = "\x1b[30;47m"

// screenLines splits a pty transcript into lines without the terminal's
// carriage returns.
func screenLines(out string) []string {
	return strings.Split(strings.ReplaceAll(out, "\r", ""), "\n")
}

// halfBlockModules reads the QR code drawn on a screen into modules,
// m[y][x] true for dark, cropped to the symbol.
func halfBlockModules(t *testing.T, lines []string) [][]bool {
	t.Helper()
	var rows [][]bool
	for _, line := range lines {
		if !strings.Contains(line, ansiInk) {
			continue
		}
		line = strings.NewReplacer(ansiInk, "", "\x1b[0m", "").Replace(line)
		var upper, lower []bool
		for _, r := range line {
			switch r {
			case '█':
				upper, lower = append(upper, true), append(lower, true)
			case '▀':
				upper, lower = append(upper, true), append(lower, false)
			case '▄':
				upper, lower = append(upper, false), append(lower, true)
			case ' ':
				upper, lower = append(upper, false), append(lower, false)
			default:
				t.Fatalf("unexpected rune %q in a QR line %q", r, line)
			}
		}
		rows = append(rows, upper, lower)
	}
	if len(rows) == 0 {
		t.Fatal("no QR code on the screen")
	}
	return crop(t, rows)
}

// crop cuts the light margin off: a QR symbol's finder patterns are dark
// in three of its corners, so the dark modules' bounding box is the symbol.
func crop(t *testing.T, rows [][]bool) [][]bool {
	t.Helper()
	minX, minY, maxX, maxY := 1<<30, 1<<30, -1, -1
	for y, row := range rows {
		for x, d := range row {
			if d {
				minX, minY, maxX, maxY = min(minX, x), min(minY, y), max(maxX, x), max(maxY, y)
			}
		}
	}
	if maxX < 0 || maxX-minX != maxY-minY {
		t.Fatalf("the dark modules are not a square symbol: x %d-%d, y %d-%d", minX, maxX, minY, maxY)
	}
	m := make([][]bool, 0, maxY-minY+1)
	for y := minY; y <= maxY; y++ {
		m = append(m, rows[y][minX:maxX+1])
	}
	return m
}

// encodedModules is boombuler's encoding of content, as the QR code of an
// authenticator-app URI is made (error correction M).
func encodedModules(t *testing.T, content string) [][]bool {
	t.Helper()
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		t.Fatal(err)
	}
	n := code.Bounds().Dx()
	m := make([][]bool, n)
	for y := range m {
		m[y] = make([]bool, n)
		for x := range m[y] {
			r, _, _, _ := code.At(x, y).RGBA()
			m[y][x] = r < 0x8000
		}
	}
	return m
}

func sameSymbol(t *testing.T, what string, got, want [][]bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d module rows, the URI's code has %d", what, len(got), len(want))
	}
	for y := range want {
		if fmt.Sprint(got[y]) != fmt.Sprint(want[y]) {
			t.Fatalf("%s: module row %d differs from the URI's code", what, y)
		}
	}
}

// printed finds "Label: value" on a screen.
func printed(t *testing.T, out, label string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + label + `: (\S+)\r?$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %s line on the screen:\n%s", label, out)
	}
	return m[1]
}

// codeAt is secret's TOTP code for step.
func codeAt(t *testing.T, secret string, step int64) string {
	t.Helper()
	c, err := totplib.GenerateCodeCustom(secret, time.Unix(step*30+15, 0), totplib.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkURI proves the printed URI is an authenticator-app URI for the
// user, carrying the printed secret.
func checkURI(t *testing.T, uri, secret string) {
	t.Helper()
	k, err := otp.NewKeyFromURL(uri)
	if err != nil || k.Type() != "totp" || k.Secret() != secret || k.AccountName() != admin {
		t.Fatalf("URI %q (secret %q): %v", uri, secret, err)
	}
}

func backupCodesIn(out string) []string {
	var codes []string
	for _, m := range regexp.MustCompile(`(?m)^  ([0-9A-F]{12})\r?$`).FindAllStringSubmatch(out, -1) {
		codes = append(codes, m[1])
	}
	return codes
}

// stepUpWith runs a step-up action in a pty and answers its prompt with
// code.
func stepUpWith(t *testing.T, e *env, name, code string) string {
	t.Helper()
	p := e.startPTY(name, stepUpCmd...)
	p.waitText("Enter TOTP code:", 15*time.Second)
	p.typeSecret(code)
	if c := p.wait(15 * time.Second); c != 0 {
		t.Fatalf("%s: exit %d\n%s", name, c, p.Output())
	}
	contains(t, name, p.Output(), "MFA verified")
	return p.Output()
}

func TestEnrollTOTPQRCodeWindowAndBackupCodes(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	e := newEnv(t)
	e.sb = sb
	e.set("NO_COLOR", "")
	e.login("prod", admin)
	sb.expireStepUp(t, admin)

	p := e.startPTY("enroll", "mfa", "enroll", "totp", "--label", "Phone")
	p.waitText("Code from your authenticator app:", 15*time.Second)
	p.waitEchoOff()
	screen := p.Output()
	secret, uri := printed(t, screen, "Secret"), printed(t, screen, "URI")
	checkURI(t, uri, secret)
	sameSymbol(t, "terminal QR code", halfBlockModules(t, screenLines(screen)), encodedModules(t, uri))

	step := time.Now().Unix() / 30
	p.typeSecret(codeAt(t, secret, step))
	if c := p.wait(15 * time.Second); c != 0 {
		t.Fatalf("enroll: exit %d\n%s", c, p.Output())
	}
	out := p.Output()
	contains(t, "enroll", out, `Authenticator app "Phone" enrolled`, "MFA verified: the step-up window is open", "password manager")
	if n := len(backupCodesIn(out)); n != 10 {
		t.Fatalf("%d backup codes shown, want 10:\n%s", n, out)
	}

	// The confirmation opened the window: a step-up action needs nothing
	// more, and nothing could be asked here (stdin is not a terminal).
	before := sb.requests(t)
	e.mustRun(stepUpCmd...)
	if d := sb.requests(t)["POST /api/v1/auth/mfa/verify"] - before["POST /api/v1/auth/mfa/verify"]; d != 0 {
		t.Fatalf("the window from the confirmation was not used: %d verifications", d)
	}
	contains(t, "methods", e.mustRun("mfa", "methods").Out, "Phone")

	// The new app passes a step-up. With two apps the ledger sends one
	// 6-digit code per 30 s step, so this one waits for the next step.
	sb.expireStepUp(t, admin)
	waitFor(t, "the next TOTP step", 35*time.Second, func() bool { return time.Now().Unix()/30 > step })
	stepUpWith(t, e, "new-app", codeAt(t, secret, time.Now().Unix()/30))

	// Regenerated backup codes: shown once, and one passes a step-up.
	r := e.mustRun("mfa", "backup-codes", "regenerate")
	codes := backupCodesIn(r.Out)
	if len(codes) != 10 || !strings.Contains(r.Err, "password manager") {
		t.Fatalf("regenerate:\n%s", r)
	}
	sb.expireStepUp(t, admin)
	stepUpWith(t, e, "backup-code", codes[3])
	if n := sb.replays(t); n != 0 {
		t.Errorf("the sandbox saw %d replayed TOTP steps", n)
	}
}

func TestEnrollTOTPWritesThePNGAndKeepsTheBackupCodesOnCtrlC(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	e := newEnv(t)
	e.sb = sb
	e.login("prod", admin)
	file := filepath.Join(e.root, "qr.png")

	p := e.startPTY("png", "mfa", "enroll", "totp", "--qr-png", file)
	p.waitText("Code from your authenticator app:", 15*time.Second)
	p.waitEchoOff()
	screen := p.Output()
	if strings.Contains(screen, ansiInk) {
		t.Fatalf("--qr-png drew the code on the terminal too:\n%s", screen)
	}
	uri := printed(t, screen, "URI")
	checkURI(t, uri, printed(t, screen, "Secret"))
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("PNG %v, %v: want a 0600 file (it holds the secret)", fi, err)
	}
	data, _ := os.ReadFile(file)
	sameSymbol(t, "PNG", pngModules(t, data, len(encodedModules(t, uri))), encodedModules(t, uri))

	// Giving up after the start: the backup codes the start replaced are
	// still shown, since the earlier ones are gone.
	p.interrupt()
	if c := p.wait(15 * time.Second); c == 0 {
		t.Fatalf("Ctrl-C: exit 0\n%s", p.Output())
	}
	out := p.Output()
	contains(t, "png", out, "replaced your backup codes")
	if n := len(backupCodesIn(out)); n != 10 {
		t.Fatalf("%d backup codes shown after Ctrl-C, want 10:\n%s", n, out)
	}
}

// pngModules samples a PNG of an n-module code at each module's centre,
// the light margin cut at the symbol's corners.
func pngModules(t *testing.T, data []byte, n int) [][]bool {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	dark := func(x, y int) bool { r, _, _, _ := img.At(x, y).RGBA(); return r < 0x8000 }
	b := img.Bounds()
	var box image.Rectangle // empty until the first dark pixel
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if dark(x, y) {
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	if box.Dx() != box.Dy() || box.Dx()%n != 0 {
		t.Fatalf("dark area %v is not %d square modules", box, n)
	}
	s := box.Dx() / n
	m := make([][]bool, n)
	for y := range m {
		m[y] = make([]bool, n)
		for x := range m[y] {
			m[y][x] = dark(box.Min.X+x*s+s/2, box.Min.Y+y*s+s/2)
		}
	}
	return m
}

func TestEnrollSecurityKeyThenStepUpWithIt(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	e := newEnv(t)
	e.sb = sb
	softKey(t, e, sb, admin, false) // a key the gateway does not know yet
	e.login("prod", admin)

	r := e.mustRun("mfa", "enroll", "webauthn", "--label", "Blue key")
	contains(t, "enroll", r.Out, `Security key "Blue key" enrolled`)
	contains(t, "methods", e.mustRun("mfa", "methods").Out, "Blue key")
	if r := e.run("mfa", "enroll", "webauthn"); r.Code == 0 || !strings.Contains(r.Err, "already enrolled") {
		t.Fatalf("second enrolment of the same key: %s", r)
	}

	sb.expireStepUp(t, admin)
	p := e.startPTY("webauthn", stepUpCmd...)
	if c := p.wait(15 * time.Second); c != 0 {
		t.Fatalf("exit %d\n%s", c, p.Output())
	}
	contains(t, "step-up", p.Output(), "Touch your security key...", "MFA verified")
	if strings.Contains(p.Output(), "Enter TOTP code:") {
		t.Errorf("asked for a code although the new key can answer:\n%s", p.Output())
	}
}
