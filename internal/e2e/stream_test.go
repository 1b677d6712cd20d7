package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The streaming commands (logs, builds logs, exec, run) over the Convox
// websocket framing, against a private sandbox so exec counters, drop
// knobs and step-up windows are this test's alone.

const strmPID = "web-4f7c2a" // the seeded demo web process

func streamEnv(t *testing.T) (*env, *sandbox) {
	t.Helper()
	sb := newSandbox(t)
	e := newEnv(t)
	e.sb = sb
	e.login("prod", admin)
	return e, sb
}

func TestStreamExec(t *testing.T) {
	t.Parallel()
	e, _ := streamEnv(t)
	// The sandbox splits the marker on every 4th exec and glues the last
	// output to it on others: four runs meet every shape.
	for i := 0; i < 4; i++ {
		r := e.mustRun("exec", "-a", "demo", strmPID, "echo", "hi")
		if r.Out != "hi\n" {
			t.Errorf("exec #%d: stdout %q, want \"hi\\n\"\n%s", i+1, r.Out, r)
		}
	}
	// Split marker (exit code 3) becomes the CLI's status.
	if r := e.run("exec", "-a", "demo", strmPID, "exit 3"); r.Code != 3 {
		t.Errorf("exit 3: %s", r)
	}
	// A remote command's flags go after "--": -r would be --rack.
	if r := e.mustRun("exec", "-a", "demo", strmPID, "--", "echo", "-r", "x"); r.Out != "-r x\n" {
		t.Errorf("flags after --: %s", r)
	}
	// Without "--" a flag we do not know is refused, naming the way out.
	if r := e.run("exec", "-a", "demo", strmPID, "ls", "-la"); r.Code != 2 || !strings.Contains(r.Err, `put it after "--"`) {
		t.Errorf("exec with a remote flag and no --: %s", r)
	}
}

func TestStreamExecPipedStdin(t *testing.T) {
	t.Parallel()
	e, _ := streamEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.cmd(ctx, "exec", "-a", "demo", strmPID, "cat")
	in := "line one\nline two\n" + strings.Repeat("x", 70000) + "\n"
	c.Stdin = strings.NewReader(in)
	r := e.runCmd(c)
	if r.Code != 0 || r.Out != in {
		t.Fatalf("cat: exit %d, %d bytes out (want %d)\n%s", r.Code, len(r.Out), len(in), r.Err)
	}
}

func TestStreamExecPTY(t *testing.T) {
	t.Parallel()
	e, _ := streamEnv(t)
	p := e.startPTY("exit3", "exec", "-a", "demo", strmPID, "exit 3")
	if code := p.wait(20 * time.Second); code != 3 {
		t.Fatalf("exit %d, want 3:\n%s", code, p.Output())
	}
	if p.echoOff() {
		t.Error("the terminal was left raw")
	}

	// Interactive: the terminal goes raw, keys (Ctrl-C too) go to the
	// remote shell, and the shell's exit status is ours; through the agent
	// and in-process (--no-agent).
	for _, pre := range [][]string{nil, {"--no-agent"}} {
		args := append(append([]string{}, pre...), "exec", "-a", "demo", strmPID, "sh")
		p = e.startPTY(strings.Join(args, " "), args...)
		p.waitText("$ ", 20*time.Second)
		waitFor(t, "raw mode", 10*time.Second, p.echoOff)
		// Raw mode keeps "\n" as typed; the fake shell reads lines.
		io.WriteString(p.ptm, "echo in-raw\n")
		p.waitText("in-raw\r\n", 10*time.Second)
		io.WriteString(p.ptm, "\x03\n") // Ctrl-C: a byte for the shell, not a signal for us
		p.waitText("not found", 10*time.Second)
		io.WriteString(p.ptm, "exit 5\n")
		if code := p.wait(20 * time.Second); code != 5 {
			t.Fatalf("%s: exit %d, want 5:\n%s", p.name, code, p.Output())
		}
		if p.echoOff() {
			t.Errorf("%s: the terminal was left raw after the session", p.name)
		}
	}
}

func TestStreamLogs(t *testing.T) {
	t.Parallel()
	e, _ := streamEnv(t)
	r := e.mustRun("logs", "--no-follow", "-a", "demo")
	contains(t, "logs", r.Out, "listening on :3000", "service/web/"+strmPID)
	r = e.mustRun("logs", "--no-follow", "-a", "demo", "--filter", "worker")
	if strings.Contains(r.Out, "listening on") || !strings.Contains(r.Out, "booting worker") {
		t.Errorf("--filter worker:\n%s", r)
	}
	r = e.run("builds", "logs", "-a", "demo", "BNOSUCH")
	if r.Code == 0 {
		t.Errorf("unknown build: %s", r)
	}
}

// lockedBuffer is an io.Writer the test can read while the command runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestStreamLogsFollowCtrlC(t *testing.T) {
	t.Parallel()
	e, _ := streamEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.cmd(ctx, "logs", "-a", "demo", "-f")
	var out, errb lockedBuffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "followed lines", 15*time.Second, func() bool { return strings.Contains(out.String(), "(follow 2)") })
	// A follow that went on after Ctrl-C would be killed at the deadline,
	// and Wait would say so.
	_ = c.Process.Signal(os.Interrupt)
	if err := c.Wait(); err != nil {
		t.Fatalf("Ctrl-C: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
}

func TestStreamRun(t *testing.T) {
	t.Parallel()
	e, sb := streamEnv(t)
	before := sb.requests(t)
	r := e.mustRun("run", "-a", "demo", "web", "echo x")
	if r.Out != "x\n" {
		t.Errorf("run: %s", r)
	}
	deletes := 0
	for k, v := range sb.requests(t) {
		if strings.HasPrefix(k, "DELETE /api/v1/rack-proxy/apps/demo/processes/") {
			deletes += v - before[k]
		}
	}
	if deletes != 1 {
		t.Errorf("%d process deletes, want 1 (the one-off must be stopped)", deletes)
	}
	if r := e.run("run", "-a", "demo", "web", "exit 7"); r.Code != 7 {
		t.Errorf("run exit 7: %s", r)
	}
}

func TestStreamDroppedWebsocket(t *testing.T) {
	t.Parallel()
	e, sb := streamEnv(t)
	for _, args := range [][]string{
		{"logs", "-a", "demo"},
		{"exec", "-a", "demo", strmPID, "echo", "hi"},
	} {
		sb.call(t, "POST", "/_sandbox/drop-websockets", nil, nil)
		// A command that never noticed the drop would be killed at the
		// run's deadline, with no error of its own.
		r := e.run(args...)
		if r.Code == 0 || !strings.Contains(r.Err, "Error:") {
			t.Errorf("%v on a dropped stream: %s", args, r)
		}
	}
}

func TestStreamExecStepUpPromptsOnce(t *testing.T) {
	t.Parallel()
	e, sb := streamEnv(t)
	sb.expireStepUp(t, admin)
	p := e.startPTY("stepup", "exec", "-a", "demo", strmPID, "echo", "stepped")
	p.waitText("Enter TOTP code:", 15*time.Second)
	p.typeSecret(totpCodes.next(t, sb, admin))
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.Output())
	}
	// The reader may still be draining the pty after the exit.
	p.waitText("stepped", 5*time.Second)
	if n := strings.Count(p.Output(), "Enter TOTP code:"); n != 1 {
		t.Fatalf("%d prompts, want 1:\n%s", n, p.Output())
	}
	// The window now covers exec without a prompt, even without a terminal.
	if r := e.mustRun("exec", "-a", "demo", strmPID, "echo", "again"); r.Out != "again\n" {
		t.Errorf("second exec: %s", r)
	}
	// --mfa-code opens the window once, without a terminal; run's three
	// step-up calls (start, exec, stop) must not send it again.
	sb.expireStepUp(t, admin)
	code := totpCodes.next(t, sb, admin)
	if r := e.mustRun("run", "--mfa-code", code, "-a", "demo", "web", "echo ran"); r.Out != "ran\n" {
		t.Errorf("run with --mfa-code: %s", r)
	}
	if n := sb.replays(t); n != 0 {
		t.Errorf("%d replayed TOTP steps", n)
	}
}
