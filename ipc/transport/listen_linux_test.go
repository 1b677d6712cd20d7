package transport

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Environment variables that turn TestTransportHelperProcess into a client.
const (
	helperEnv     = "RACK_GATEWAY_IPC_TEST_HELPER"
	helperPathEnv = "RACK_GATEWAY_IPC_TEST_SOCKET"
	nobody        = 65534
)

// TestTransportHelperProcess is not a test: TestListenRejectsOtherUID
// re-executes the test binary as uid 65534 to run it as a client that
// dials the socket and reports what the server sent before closing.
func TestTransportHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "dial" {
		t.Skip("helper process for TestListenRejectsOtherUID")
	}
	fmt.Printf("HELPER uid=%d\n", os.Getuid())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, os.Getenv(helperPathEnv))
	if err != nil {
		fmt.Printf("HELPER dial error: %v\n", err)
		os.Exit(2)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c) // nil error means the server closed: EOF
	fmt.Printf("HELPER read %q err=%v\n", b, err)
	if err == nil {
		fmt.Println("HELPER EOF")
	}
	os.Exit(0)
}

func TestListenRejectsOtherUID(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as uid 65534 (nobody)")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) not found; needed to run a client as uid 65534")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	dir := testDir(t)
	rejected := make(chan PeerCred, 1)
	l, path := testListen(t, dir, ListenOptions{
		OnReject: func(c net.Conn, peer PeerCred) {
			_, _ = io.WriteString(c, "not your agent\n")
			rejected <- peer
		},
	})
	acc := testAcceptor(t, l)

	// Test-only relaxation so that nobody can reach the socket at all; a
	// real agent's directory stays 0700, so this exercises the second line
	// of defence. os.MkdirTemp's parent (os.TempDir) must be traversable.
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}

	// The test binary sits in a private go-build directory; give nobody a
	// readable, executable copy.
	binDir := testDir(t)
	if err := os.Chmod(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(binDir, "ipc.test")
	testCopyFile(t, self, bin, 0o755)

	cmd := exec.Command(setpriv,
		fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups",
		bin, "-test.run=^TestTransportHelperProcess$")
	// Under -race the helper would otherwise sleep 1 s at exit
	// (atexit_sleep_ms). The option is appended to any GORACE the user set,
	// so their other options are kept.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), helperEnv+"=dial", helperPathEnv+"="+path, "GORACE="+gorace)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()

	var peer PeerCred
	select {
	case peer = <-rejected:
	case err := <-waitErr:
		t.Fatalf("helper exited (%v) before OnReject ran; output:\n%s", err, out.String())
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-waitErr
		t.Fatal("OnReject was not called")
	}
	if err := <-waitErr; err != nil {
		t.Fatalf("helper: %v; output:\n%s", err, out.String())
	}
	// setpriv execs in place, so the helper's pid is the one we started.
	if want := (PeerCred{UID: nobody, GID: nobody, PID: cmd.Process.Pid}); peer != want {
		t.Errorf("OnReject peer = %+v, want %+v", peer, want)
	}
	got := out.String()
	for _, want := range []string{"HELPER uid=65534", `HELPER read "not your agent\n"`, "HELPER EOF"} {
		if !strings.Contains(got, want) {
			t.Errorf("helper output lacks %q:\n%s", want, got)
		}
	}

	// The foreign connection never surfaced from Accept; ours does.
	select {
	case c := <-acc:
		t.Fatalf("Accept returned a connection before we dialled: %+v", c.(*Conn).Peer)
	default:
	}
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc := testNextConn(t, acc)
	if sc.Peer.UID != os.Getuid() || sc.Peer.PID != os.Getpid() {
		t.Errorf("accepted peer = %+v, want uid %d pid %d", sc.Peer, os.Getuid(), os.Getpid())
	}
}

// testCopyFile copies src to dst with mode perm.
func testCopyFile(t *testing.T, src, dst string, perm os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, perm); err != nil {
		t.Fatal(err)
	}
}
