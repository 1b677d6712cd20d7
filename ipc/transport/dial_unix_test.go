//go:build linux || darwin || freebsd

package transport

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDialRetryWaitsForAgent(t *testing.T) {
	dir := testDir(t)
	path := filepath.Join(dir, "agent.sock")

	started := make(chan net.Listener, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		l, err := Listen(path, ListenOptions{})
		if err != nil {
			t.Error(err)
		}
		started <- l
	}()

	begin := time.Now()
	c, err := DialRetry(context.Background(), path, 5*time.Second)
	l := <-started
	if l != nil {
		defer l.Close()
	}
	if err != nil {
		t.Fatalf("DialRetry: %v", err)
	}
	c.Close()
	if d := time.Since(begin); d < 90*time.Millisecond || d > 2*time.Second {
		t.Errorf("DialRetry took %v, want ~100ms", d)
	}
}

func TestDialRetryGivesUp(t *testing.T) {
	dir := testDir(t)
	stale := filepath.Join(dir, "stale.sock")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()

	for name, path := range map[string]string{
		"missing": filepath.Join(dir, "agent.sock"),
		"stale":   stale,
	} {
		t.Run(name, func(t *testing.T) {
			const wait = 150 * time.Millisecond
			begin := time.Now()
			c, err := DialRetry(context.Background(), path, wait)
			if err == nil {
				c.Close()
				t.Fatal("DialRetry succeeded with no agent")
			}
			d := time.Since(begin)
			if d < wait || d > wait+time.Second {
				t.Errorf("gave up after %v, want ~%v", d, wait)
			}
			if !IsNotRunning(err) {
				t.Errorf("IsNotRunning(%v) = false", err)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
			}
		})
	}
}

// Errors that do not mean "starting" are returned at once, not retried.
func TestDialRetryFailsFastOnOtherErrors(t *testing.T) {
	dir := testDir(t)
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	_, err := DialRetry(context.Background(), filepath.Join(file, "agent.sock"), 5*time.Second) // ENOTDIR
	if err == nil {
		t.Fatal("DialRetry succeeded")
	}
	if IsNotRunning(err) {
		t.Errorf("IsNotRunning(%v) = true, want false", err)
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("took %v; a non-retryable error should return at once", d)
	}
}

func TestDialRetryHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	begin := time.Now()
	_, err := DialRetry(ctx, filepath.Join(testDir(t), "agent.sock"), 5*time.Second)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("took %v after cancellation at 50ms", d)
	}
}

func TestDialHonoursCancellation(t *testing.T) {
	dir := testDir(t)
	l, path := testListen(t, dir, ListenOptions{})
	testAcceptor(t, l)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := Dial(ctx, path)
	if err == nil {
		c.Close()
		t.Fatal("Dial succeeded with a cancelled context")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}

	// And a live context connects.
	c, err = Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestIsNotRunning(t *testing.T) {
	dir := testDir(t)
	_, err := Dial(context.Background(), filepath.Join(dir, "agent.sock"))
	if !IsNotRunning(err) {
		t.Errorf("missing socket: IsNotRunning(%v) = false", err)
	}
	_, err = Dial(context.Background(), filepath.Join(dir, "no-such-dir", "agent.sock"))
	if !IsNotRunning(err) {
		t.Errorf("missing directory: IsNotRunning(%v) = false", err)
	}
	if IsNotRunning(nil) || IsNotRunning(errors.New("permission denied")) || IsNotRunning(os.ErrPermission) {
		t.Error("IsNotRunning is true for a non-absence error")
	}
}
