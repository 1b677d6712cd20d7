//go:build !windows

package cli

import (
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/term"
)

// makeRaw puts f (the user's stdin terminal) in raw mode for an
// interactive remote session and returns the function that restores it.
// The restore is idempotent, and also runs when a terminating signal
// arrives: raw mode must never outlive this process, whatever ends it.
func makeRaw(f *os.File) (func(), error) {
	fd := int(f.Fd())
	saved, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	done := make(chan struct{})
	var once sync.Once
	restore := func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			_ = term.Restore(fd, saved)
		})
	}
	go func() {
		select {
		case <-done:
		case sig := <-sigs:
			restore()
			// Die of the signal as we would have without the handler.
			signal.Reset(sig)
			_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
		}
	}()
	return restore, nil
}
