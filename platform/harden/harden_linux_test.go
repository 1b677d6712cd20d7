//go:build linux

package harden

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const childEnv = "RACK_GATEWAY_HARDEN_CHILD"

// TestProcess runs Process in a re-executed copy of the test binary, so the
// test process itself stays dumpable and debuggable.
func TestProcess(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestProcessChild$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestProcessChild") {
		t.Fatalf("child did not run or pass:\n%s", out)
	}
	if d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); err == nil && d == 0 {
		t.Error("the parent test process became non-dumpable")
	}
}

// TestProcessChild is the child half of TestProcess; it does nothing unless
// started by it.
func TestProcessChild(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("run by TestProcess in a child process")
	}
	if err := Process(); err != nil {
		t.Fatal(err)
	}
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d != 0 {
		t.Errorf("PR_GET_DUMPABLE = %d, want 0", d)
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur != 0 || rl.Max != 0 {
		t.Errorf("RLIMIT_CORE = %d/%d, want 0/0", rl.Cur, rl.Max)
	}
}
