//go:build linux || darwin || freebsd

package transport

import (
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testDir returns a fresh 0700 directory that is removed after the test.
// It is made directly under os.TempDir rather than with t.TempDir because
// t.TempDir names grow with the test name, and Unix socket paths are
// limited to ~104 bytes (macOS) or 108 (Linux).
func testDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rgipc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// testListen listens on dir/agent.sock and closes the listener at the
// end of the test.
func testListen(t *testing.T, dir string, opts ListenOptions) (net.Listener, string) {
	t.Helper()
	path := filepath.Join(dir, "agent.sock")
	l, err := Listen(path, opts)
	if err != nil {
		t.Fatalf("Listen(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, path
}

// testAcceptor runs an Accept loop and delivers accepted connections on
// the returned channel until the listener is closed. Cleanup closes the
// listener, waits for the loop to end and closes whatever was accepted, so
// no goroutine outlives the test.
func testAcceptor(t *testing.T, l net.Listener) <-chan net.Conn {
	t.Helper()
	ch := make(chan net.Conn, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ch)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			ch <- c
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		wg.Wait()
		for c := range ch {
			_ = c.Close()
		}
	})
	return ch
}

// testNextConn waits for an accepted connection.
func testNextConn(t *testing.T, ch <-chan net.Conn) *Conn {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("listener stopped accepting")
		}
		pc, ok := c.(*Conn)
		if !ok {
			t.Fatalf("Accept returned %T, want *transport.Conn", c)
		}
		return pc
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for Accept")
	}
	return nil
}
