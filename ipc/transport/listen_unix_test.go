//go:build linux || darwin || freebsd

package transport

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestListenCreatesPrivateSocket(t *testing.T) {
	dir := testDir(t)
	l, path := testListen(t, dir, ListenOptions{})
	acc := testAcceptor(t, l)

	m := testMode(t, path)
	if m.Type() != fs.ModeSocket || m.Perm() != 0o600 {
		t.Fatalf("socket mode = %v, want srw-------", m)
	}

	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc := testNextConn(t, acc)
	if sc.Peer.UID != os.Getuid() || sc.Peer.PID != os.Getpid() {
		t.Errorf("Peer = %+v, want uid %d pid %d", sc.Peer, os.Getuid(), os.Getpid())
	}
	if p, err := PeerCredOf(sc); err != nil || p != sc.Peer {
		t.Errorf("PeerCredOf(*Conn) = %+v, %v; want %+v", p, err, sc.Peer)
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket still present after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestListenRefusesToDisplaceLiveAgent(t *testing.T) {
	dir := testDir(t)
	l, path := testListen(t, dir, ListenOptions{})
	acc := testAcceptor(t, l)
	before, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}

	l2, err := Listen(path, ListenOptions{})
	if err == nil {
		l2.Close()
		t.Fatal("second Listen succeeded while the first agent is live")
	}
	if !errors.Is(err, ErrAgentRunning) {
		t.Fatalf("second Listen error = %v, want ErrAgentRunning", err)
	}
	after, err := os.Lstat(path)
	if err != nil || !os.SameFile(before, after) {
		t.Fatalf("socket file was touched: %v", err)
	}

	// The first agent still serves. Its first accepted connection is the
	// probe from the second Listen, which closes without sending anything.
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		t.Fatal(err)
	}
	for {
		sc := testNextConn(t, acc)
		_ = sc.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(sc).ReadString('\n')
		if errors.Is(err, io.EOF) && line == "" {
			continue // the probe
		}
		if err != nil || line != "ping\n" {
			t.Fatalf("read %q, %v", line, err)
		}
		break
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	dir := testDir(t)
	path := filepath.Join(dir, "agent.sock")
	// Simulate an agent that died without cleanup: the file stays, but
	// nothing listens on it.
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()
	stale, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("stale socket missing: %v", err)
	}

	l, _ := testListen(t, dir, ListenOptions{})
	acc := testAcceptor(t, l)
	fresh, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(stale, fresh) && stale.ModTime().Equal(fresh.ModTime()) {
		t.Fatal("stale socket was not replaced")
	}
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testNextConn(t, acc)
}

func TestListenKeepsNonSocketFile(t *testing.T) {
	dir := testDir(t)
	path := filepath.Join(dir, "agent.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Listen(path, ListenOptions{})
	if err == nil {
		l.Close()
		t.Fatal("Listen replaced a regular file")
	}
	if errors.Is(err, ErrAgentRunning) || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("error = %v, want a 'not a socket' error", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Fatalf("file damaged: %q, %v", b, err)
	}
}

func TestListenRefusesSharedDir(t *testing.T) {
	dir := testDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := Listen(filepath.Join(dir, "agent.sock"), ListenOptions{})
	if err == nil {
		l.Close()
		t.Fatal("Listen accepted a 0755 directory")
	}
	if !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("error = %v, want a fix hint", err)
	}
}

// A listener whose socket was replaced (here: deleted by hand, then taken by
// a new agent) must not delete its successor's socket when it closes.
func TestListenCloseLeavesSuccessorSocket(t *testing.T) {
	dir := testDir(t)
	l1, path := testListen(t, dir, ListenOptions{})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	l2, _ := testListen(t, dir, ListenOptions{})
	acc := testAcceptor(t, l2)

	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("successor's socket removed: %v", err)
	}
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testNextConn(t, acc)
}

// Agents started together must not both decide the socket is stale and
// then delete each other's fresh socket: exactly one wins.
func TestListenConcurrentStartOneWins(t *testing.T) {
	dir := testDir(t)
	path := filepath.Join(dir, "agent.sock")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close() // leave a stale socket for all of them to find

	const n = 8
	type result struct {
		l   net.Listener
		err error
	}
	results := make(chan result, n)
	for range n {
		go func() {
			l, err := Listen(path, ListenOptions{})
			results <- result{l, err}
		}()
	}
	var winners []net.Listener
	for range n {
		r := <-results
		switch {
		case r.err == nil:
			winners = append(winners, r.l)
		case !errors.Is(r.err, ErrAgentRunning):
			t.Errorf("Listen: %v, want nil or ErrAgentRunning", r.err)
		}
	}
	for _, l := range winners {
		t.Cleanup(func() { _ = l.Close() })
	}
	if len(winners) != 1 {
		t.Fatalf("%d listeners won, want exactly 1", len(winners))
	}
	acc := testAcceptor(t, winners[0])
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testNextConn(t, acc)
}
