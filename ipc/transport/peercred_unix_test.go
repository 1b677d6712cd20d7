//go:build linux || darwin || freebsd

package transport

import (
	"context"
	"net"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// testWantPID is the pid PeerCredOf should report for this process.
func testWantPID() int {
	if runtime.GOOS == "freebsd" {
		return 0 // not available, see peercred_freebsd.go
	}
	return os.Getpid()
}

func TestPeerCredOfSocketpair(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f) // dups fd
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		p, err := PeerCredOf(c)
		if err != nil {
			t.Fatalf("end %d: %v", i, err)
		}
		want := PeerCred{UID: os.Getuid(), GID: os.Getgid(), PID: testWantPID()}
		if p != want {
			t.Errorf("end %d: PeerCredOf = %+v, want %+v", i, p, want)
		}
	}
}

// The client end of a Dial'ed connection reports the server, which here is
// also this process.
func TestPeerCredOfDialedConn(t *testing.T) {
	dir := testDir(t)
	l, path := testListen(t, dir, ListenOptions{})
	testAcceptor(t, l)
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := PeerCredOf(c)
	if err != nil {
		t.Fatal(err)
	}
	if p.UID != os.Getuid() || p.PID != testWantPID() {
		t.Errorf("PeerCredOf = %+v, want uid %d pid %d", p, os.Getuid(), testWantPID())
	}
}

func TestPeerCredOfNonSocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := PeerCredOf(a); err == nil {
		t.Error("PeerCredOf(net.Pipe) succeeded, want an error")
	}
}
