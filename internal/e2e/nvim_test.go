package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// nvimPluginDir is the Neovim plugin under test (editors/nvim).
var nvimPluginDir, _ = filepath.Abs("../../editors/nvim")

// nvimBin returns the nvim to run, or skips: the plugin targets Debian's
// neovim (0.7), which .ci/run installs.
func nvimBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("nvim")
	if err != nil {
		t.Skip("nvim is not installed (apt-get install neovim; .ci/run installs it): the Neovim plugin is not tested")
	}
	return p
}

// nvimProc is a headless Neovim running one of the plugin's test scripts,
// which reports through "TAG value" lines on stdout and waits for files
// the test writes into sync.
type nvimProc struct {
	t    *testing.T
	sync string
	out  *lockedBuffer
	err  *lockedBuffer
	done chan struct{}
	code int
}

// startNvim runs script (a path under editors/nvim) in e's environment with
// the plugin on the runtimepath and no user configuration.
func (e *env) startNvim(t *testing.T, script string, extra ...string) *nvimProc {
	t.Helper()
	n := &nvimProc{t: t, sync: filepath.Join(e.root, "nvim-sync"), out: &lockedBuffer{}, err: &lockedBuffer{}, done: make(chan struct{})}
	if err := os.MkdirAll(n.sync, 0o700); err != nil {
		t.Fatal(err)
	}
	c := exec.Command(nvimBin(t), "--headless", "-u", "NONE", "-i", "NONE", "-n",
		"--cmd", "set rtp^="+nvimPluginDir, "-c", "luafile "+filepath.Join(nvimPluginDir, script))
	c.Env = append(e.environ(), append([]string{"RG_NVIM_SYNC=" + n.sync, "RG_CLI=" + filepath.Join(binDir, "rack-gateway")}, extra...)...)
	c.Dir = e.root
	c.Stdout, c.Stderr = n.out, n.err
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := c.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			n.code = ee.ExitCode()
		} else if err != nil {
			n.code = -1
		}
		close(n.done)
	}()
	t.Cleanup(func() {
		select {
		case <-n.done:
		default:
			_ = c.Process.Kill()
			<-n.done
		}
	})
	return n
}

func (n *nvimProc) exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

func (n *nvimProc) transcript() string {
	return fmt.Sprintf("--- nvim stdout\n%s--- nvim stderr\n%s", n.out.String(), n.err.String())
}

// line waits for the first line tagged tag and returns its value; it fails
// at once when the script failed or ended without it.
func (n *nvimProc) line(tag string, d time.Duration) string {
	n.t.Helper()
	var v string
	found := func() bool {
		for _, l := range strings.Split(n.out.String(), "\n") {
			if rest, ok := strings.CutPrefix(l, tag+" "); ok {
				v = rest
				return true
			}
		}
		return false
	}
	ok := poll(d, func() bool {
		return found() || strings.Contains(n.out.String(), "FAIL ") || n.exited()
	})
	if !ok || !found() {
		n.t.Fatalf("nvim: no %s line after %s\n%s", tag, d, n.transcript())
	}
	return v
}

// signal hands value to the script's await(name), atomically so it never
// reads half a file.
func (n *nvimProc) signal(name, value string) {
	n.t.Helper()
	tmp := filepath.Join(n.sync, "."+name)
	if err := os.WriteFile(tmp, []byte(value), 0o600); err != nil {
		n.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(n.sync, name)); err != nil {
		n.t.Fatal(err)
	}
}

func (n *nvimProc) wait(d time.Duration) int {
	n.t.Helper()
	if !poll(d, n.exited) {
		n.t.Fatalf("nvim still running after %s\n%s", d, n.transcript())
	}
	return n.code
}

// The plugin's pure parts (websocket framing, HTTP parsing, the segment,
// socket discovery, secret input), with no agent.
func TestNvimPluginUnit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := e.startNvim(t, "tests/unit.lua")
	if code := n.wait(30 * time.Second); code != 0 || !strings.HasPrefix(n.out.String(), "ok ") {
		t.Fatalf("exit %d\n%s", code, n.transcript())
	}
}

// The acceptance test of the Neovim plugin: against a real agent, its
// statusline shows 🔒 while a step-up command waits for a code, the
// notification names the rack, the command and its terminal, the answer
// given through vim.ui.input completes the command waiting in its pty,
// the statusline then counts the window down in minutes, and the plugin
// finds the agent again after it restarts.
func TestNvimStatuslineAndPromptAnswer(t *testing.T) {
	t.Parallel()
	nvimBin(t)
	e, sb := mfaEnv(t)
	e.mustRun("racks") // the agent is up before the editor connects
	n := e.startNvim(t, "tests/e2e.lua")
	t.Logf("connected: %q", n.line("CONNECTED", 20*time.Second))

	p := e.startPTY("waits-for-nvim", stepUpCmd...)
	input := n.line("INPUT", 30*time.Second)
	if locked := n.line("LOCKED", time.Second); locked != "prod 🔒" {
		t.Errorf("statusline while the command waits: %q, want %q", locked, "prod 🔒")
	}
	if !strings.HasPrefix(input, "secret=true ") || !strings.Contains(input, "[prod]") || !strings.Contains(input, "TOTP") {
		t.Errorf("vim.ui.input was called with %q: want secret=true and the rack and question in the prompt", input)
	}
	p.waitText("Enter TOTP code:", 10*time.Second)
	n.signal("code", totpCodes.next(t, sb, admin))
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("the command answered from nvim: exit %d\n%s\n%s", code, p.Output(), n.transcript())
	}
	if p.echoOff() {
		t.Error("the terminal was left with echo off after the editor answered")
	}
	if strings.Count(p.Output(), "Enter TOTP code:") != 1 {
		t.Errorf("the terminal asked more than once:\n%s", p.Output())
	}

	unlocked := n.line("UNLOCKED", 20*time.Second)
	if !regexp.MustCompile(`^prod 🔓 ([1-9]|10)m$`).MatchString(unlocked) {
		t.Errorf("statusline after the step-up: %q, want prod 🔓 and minutes of the 10 m window", unlocked)
	}
	note := n.line("NOTIFY", time.Second)
	// The terminal, by its tty and the CLI's pid.
	contains(t, "the notification", note, "prod", "rack-gateway api", "TOTP",
		fmt.Sprintf("in %s (pid %d)", p.tty.Name(), p.cmd.Process.Pid))

	pid := n.line("PID", time.Second)
	e.stopAgent()
	n.signal("stopped", "")
	if down := n.line("DOWN", 20*time.Second); down != "" {
		t.Errorf("statusline with no agent: %q, want empty", down)
	}
	contains(t, ":RackGatewayStatus with no agent", n.line("DOWNINFO", 10*time.Second), "no agent is listening on "+e.socket())
	e.mustRun("racks") // a new agent
	n.signal("restarted", "")
	back := n.line("BACK", 30*time.Second)
	m := regexp.MustCompile(`^prod (🔒|🔓 [0-9]+m) pid=([0-9]+)$`).FindStringSubmatch(back)
	if m == nil || m[2] == pid {
		t.Errorf("after the agent restarted: %q, want prod's segment from a new agent (the old one was pid %s)", back, pid)
	}
	contains(t, ":RackGatewayStatus", n.line("INFO", 10*time.Second), "agent", "pid", "prod", admin)
	if code := n.wait(20 * time.Second); code != 0 || n.line("DONE", time.Second) != "1" {
		t.Fatalf("nvim exit %d, want 0 after asking once\n%s", code, n.transcript())
	}
}

// A prompt already waiting when Neovim starts is notified; with ask =
// false nothing pops up until :RackGatewayAnswer, which reads the code
// with inputsecret (the default for secrets) and completes the command.
func TestNvimAnswersAPromptThatWasAlreadyWaiting(t *testing.T) {
	t.Parallel()
	nvimBin(t)
	e, sb := mfaEnv(t)
	p := e.startPTY("waited-before-nvim", stepUpCmd...)
	p.waitText("Enter TOTP code:", 15*time.Second)
	p.waitEchoOff()
	n := e.startNvim(t, "tests/e2e_pending.lua")
	note := n.line("NOTIFY", 20*time.Second)
	contains(t, "the notification", note, "prod", "rack-gateway api", fmt.Sprintf("in %s (pid %d)", p.tty.Name(), p.cmd.Process.Pid))
	contains(t, "the secret prompt", n.line("SECRET", 10*time.Second), "[prod]", "TOTP")
	n.signal("code", totpCodes.next(t, sb, admin))
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("the command answered from nvim: exit %d\n%s\n%s", code, p.Output(), n.transcript())
	}
	if u := n.line("UNLOCKED", 20*time.Second); !regexp.MustCompile(`^prod 🔓 ([1-9]|10)m$`).MatchString(u) {
		t.Errorf("statusline after the step-up: %q", u)
	}
	if code := n.wait(20 * time.Second); code != 0 || n.line("DONE", time.Second) != "1" {
		t.Fatalf("nvim exit %d, want 0 after asking once\n%s", code, n.transcript())
	}
}
