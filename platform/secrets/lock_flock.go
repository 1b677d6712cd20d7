//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package secrets

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on path (created 0600), so two
// agent processes (say, one shutting down while another starts) cannot both
// read-modify-write the credentials file and lose an entry. The lock is a
// separate file because the credentials file itself is replaced by rename.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
