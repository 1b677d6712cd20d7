package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/pquerna/otp"
	totplib "github.com/pquerna/otp/totp"
	"golang.org/x/sys/unix"
)

// ptyTerm is rack-gateway running in a real pseudo-terminal, as a person
// would run it.
type ptyTerm struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	ptm  *os.File
	tty  *os.File

	mu      sync.Mutex
	buf     bytes.Buffer
	done    chan struct{}
	drained chan struct{} // the reader saw the terminal close: Output is complete
	code    int
}

func (e *env) startPTY(name string, args ...string) *ptyTerm {
	e.t.Helper()
	ptm, tty, err := pty.Open()
	if err != nil {
		e.t.Fatal(err)
	}
	_ = pty.Setsize(ptm, &pty.Winsize{Rows: 40, Cols: 120})
	c := exec.Command(filepath.Join(binDir, "rack-gateway"), args...)
	c.Env = e.environ()
	c.Dir = e.root
	c.Stdin, c.Stdout, c.Stderr = tty, tty, tty
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := c.Start(); err != nil {
		e.t.Fatal(err)
	}
	p := &ptyTerm{t: e.t, name: name, cmd: c, ptm: ptm, tty: tty, done: make(chan struct{}), drained: make(chan struct{})}
	go func() {
		defer close(p.drained)
		b := make([]byte, 4096)
		for {
			n, err := ptm.Read(b)
			p.mu.Lock()
			p.buf.Write(b[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		err := c.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		}
		// Our copy of the terminal's other end is the last one open:
		// closing it lets the reader drain what the program wrote last and
		// then see the end, so Output is complete after wait.
		tty.Close()
		close(p.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = c.Process.Kill()
			<-p.done
		}
		ptm.Close()
		tty.Close()
	})
	return p
}

func (p *ptyTerm) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

// has reports whether the terminal shows s.
func (p *ptyTerm) has(s string) bool { return strings.Contains(p.Output(), s) }

func (p *ptyTerm) waitText(s string, d time.Duration) {
	p.t.Helper()
	if !poll(d, func() bool { return p.has(s) }) {
		p.t.Fatalf("%s: no %q after %s; screen:\n%s", p.name, s, d, p.Output())
	}
}

// echoOff reports whether the terminal is reading a secret. It asks the
// master side, which shares the terminal's modes on Linux and stays open
// after the program exits (so a test can check echo was restored).
func (p *ptyTerm) echoOff() bool {
	tio, err := unix.IoctlGetTermios(int(p.ptm.Fd()), unix.TCGETS)
	return err == nil && tio.Lflag&unix.ECHO == 0
}

// typeSecret waits until echo is off (the prompt really reads a secret;
// typing earlier races the terminal mode) and types s and Enter.
func (p *ptyTerm) typeSecret(s string) {
	p.t.Helper()
	p.waitEchoOff()
	if _, err := io.WriteString(p.ptm, s+"\r"); err != nil {
		p.t.Fatal(err)
	}
}

// waitEchoOff waits until the terminal reads a secret.
func (p *ptyTerm) waitEchoOff() {
	p.t.Helper()
	if !poll(10*time.Second, p.echoOff) {
		p.t.Fatalf("%s: echo never went off; screen:\n%s", p.name, p.Output())
	}
}

// interrupt types Ctrl-C.
func (p *ptyTerm) interrupt() { _, _ = p.ptm.Write([]byte{3}) }

func (p *ptyTerm) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		select {
		case <-p.drained:
		case <-time.After(2 * time.Second):
		}
		return p.code
	case <-time.After(d):
		p.t.Fatalf("%s: still running after %s; screen:\n%s", p.name, d, p.Output())
		return -1
	}
}

// codes hands out MFA codes a sandbox accepts, each once. A sandbox
// accepts a TOTP code for the previous, current and next 30 s step, and
// each step once per user; codes hands out only the current and the next
// step, because a code for the previous one stops working at the next
// step boundary, which a busy machine can cross before the code is
// checked. Once a user's two steps are used, it hands out backup codes
// (natBackupCode), from the last down to the seventh: tests that pick
// backup codes themselves take them from the first up, so both never
// meet. It never waits for a new step: six codes are more than the
// sandbox's 5 verifications per user in 5 minutes allow anyway.
type codes struct {
	mu     sync.Mutex
	used   map[*sandbox]map[string]map[int64]bool // TOTP steps handed out
	backup map[*sandbox]map[string]int            // backup codes handed out
}

var totpCodes = &codes{used: map[*sandbox]map[string]map[int64]bool{}, backup: map[*sandbox]map[string]int{}}

// codesBackupReserve is how many backup codes codes may hand out per user,
// from natBackupCode(email, 9) down: 0 to 5 are for tests that name them.
const codesBackupReserve = 4

func (c *codes) next(t testing.TB, sb *sandbox, email string) string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used[sb] == nil {
		c.used[sb], c.backup[sb] = map[string]map[int64]bool{}, map[string]int{}
	}
	if c.used[sb][email] == nil {
		c.used[sb][email] = map[int64]bool{}
	}
	now := time.Now().Unix() / 30
	for _, step := range []int64{now, now + 1} {
		if c.used[sb][email][step] {
			continue
		}
		c.used[sb][email][step] = true
		code, err := totplib.GenerateCodeCustom(totp[email], time.Unix(step*30+15, 0), totplib.ValidateOpts{
			Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Skew: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	n := c.backup[sb][email]
	if n == codesBackupReserve {
		t.Fatalf("%s needs more than %d MFA codes on one sandbox: the sandbox would refuse them (5 in 5 minutes)", email, 2+codesBackupReserve)
	}
	c.backup[sb][email] = n + 1
	return natBackupCode(email, 9-n)
}

// sandboxJSON calls a /_sandbox/ knob.
func (sb *sandbox) call(t testing.TB, method, path string, body any, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, sb.URL+path, r)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s: %v: %s", path, err, data)
		}
	}
}

// requests returns the sandbox's per-route request counts.
func (sb *sandbox) requests(t testing.TB) map[string]int {
	var out struct {
		Counts map[string]int `json:"counts"`
	}
	sb.call(t, "GET", "/_sandbox/requests", nil, &out)
	return out.Counts
}

// expireStepUp closes a user's step-up windows on the server, as time
// would.
func (sb *sandbox) expireStepUp(t testing.TB, email string) {
	sb.call(t, "POST", "/_sandbox/users/"+email+"/expire-step-up", nil, nil)
}

func (sb *sandbox) replays(t testing.TB) int {
	var out struct {
		ReplayCount int `json:"replay_count"`
	}
	sb.call(t, "GET", "/_sandbox/replays", nil, &out)
	return out.ReplayCount
}

var _ = context.Background
var _ = fmt.Sprint
