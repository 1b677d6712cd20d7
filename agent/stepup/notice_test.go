package stepup

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Notice: once per window, only within its last stretch, again for a new
// window, never for an unknown, closed or forgotten one.
func TestNoticeOncePerWindow(t *testing.T) {
	t.Parallel()
	c := newClock()
	e := newEngine(t, c)
	const within = time.Minute
	if _, ok := e.Notice("k", within); ok {
		t.Fatal("a notice for a window the engine never saw")
	}
	e.Opened("k", c.Now().Add(5*time.Minute), "totp", "t")
	if _, ok := e.Notice("k", within); ok {
		t.Fatal("a notice with 5 minutes left")
	}
	c.Add(4*time.Minute + 12*time.Second)
	var (
		wg  sync.WaitGroup
		yes atomic.Int32
	)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if left, ok := e.Notice("k", within); ok {
				yes.Add(1)
				if left != 48*time.Second {
					t.Errorf("left = %s, want 48s", left)
				}
			}
		}()
	}
	wg.Wait()
	if yes.Load() != 1 {
		t.Fatalf("%d of 8 commands in the last minute were told, want 1", yes.Load())
	}
	if _, ok := e.Notice("k", within); ok {
		t.Fatal("told twice for one window")
	}
	if _, ok := e.Notice("k", 0); ok {
		t.Fatal("told with the notice turned off")
	}
	// A renewal is a new window: its own last minute is announced.
	e.Opened("k", c.Now().Add(50*time.Second), "totp", "t")
	if left, ok := e.Notice("k", within); !ok || left != 50*time.Second {
		t.Fatalf("new window: %s %v, want 50s true", left, ok)
	}
	// A window the server closed, and one that ran out, are not.
	e.Opened("k", c.Now().Add(30*time.Second), "totp", "t")
	e.Closed("k", e.Stamp("k"))
	if _, ok := e.Notice("k", within); ok {
		t.Fatal("a notice for a closed window")
	}
	e.Opened("k", c.Now().Add(30*time.Second), "totp", "t")
	c.Add(31 * time.Second)
	if _, ok := e.Notice("k", within); ok {
		t.Fatal("a notice for a window that ran out")
	}
	// After a logout the same expiry (as a status call might report it)
	// is a window of the new session.
	e.Opened("k", c.Now().Add(40*time.Second), "totp", "t")
	if _, ok := e.Notice("k", within); !ok {
		t.Fatal("no notice")
	}
	exp := e.Window("k").ExpiresAt
	e.Forget("k")
	e.Observe("k", &exp, "", "")
	if _, ok := e.Notice("k", within); !ok {
		t.Fatal("no notice after Forget")
	}
}

// A terminal that waits for another terminal's prompt shows a live line
// naming the holder and the wait when it can (Spin), and ends it as one
// ordinary line; without Spin it says the single line as before.
func TestWaitingTerminalSpins(t *testing.T) {
	t.Parallel()
	c := newClock()
	gw := &fakeGW{clock: c, good: "123456", window: 10 * time.Minute}
	e := newEngine(t, c)
	release := make(chan struct{})
	asked := make(chan struct{})
	holder := &fakeTerm{next: func() string { close(asked); return "123456" }, can: true, wait: release}
	first := make(chan error, 1)
	go func() {
		first <- e.EnsureWindow(context.Background(), session(gw), holder, Request{Who: "/dev/pts/3", Command: "rack-gateway env set"})
	}()
	<-asked // the holder has the guard and is prompting

	waiter := &fakeTerm{can: true}
	var texts []string
	var final string
	spun := make(chan struct{})
	second := make(chan error, 1)
	go func() {
		second <- e.EnsureWindow(context.Background(), session(gw), waiter, Request{Who: "/dev/pts/4",
			Spin: func(text func(time.Duration) string) func(string) {
				texts = append(texts, text(0), text(75*time.Second))
				close(spun)
				return func(f string) { final = f }
			}})
	}()
	<-spun
	c.Add(12 * time.Second)
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	wantTexts := []string{
		"Waiting for MFA verification in another terminal (/dev/pts/3, rack-gateway env set)... 0s",
		"Waiting for MFA verification in another terminal (/dev/pts/3, rack-gateway env set)... 1m15s",
	}
	if strings.Join(texts, "\n") != strings.Join(wantTexts, "\n") {
		t.Errorf("spinner texts\n%s\nwant\n%s", strings.Join(texts, "\n"), strings.Join(wantTexts, "\n"))
	}
	if want := "Waiting for MFA verification in another terminal (/dev/pts/3, rack-gateway env set)... 12s"; final != want {
		t.Errorf("final line %q, want %q", final, want)
	}
	if strings.Contains(waiter.err.String(), "Waiting for MFA") {
		t.Errorf("the spinning terminal also said the plain line:\n%s", waiter.err.String())
	}
	if !strings.Contains(waiter.err.String(), "Using the MFA window opened by /dev/pts/3") {
		t.Errorf("waiter's stderr:\n%s", waiter.err.String())
	}
}
