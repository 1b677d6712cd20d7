//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package ledger

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on path (created 0600). The agent
// daemon and short-lived --no-agent processes read-modify-write the same
// ledger, and two of them passing the check at once could together send the
// attempt that locks the account. The lock is a separate file because the
// ledger itself is replaced by rename, which would leave a lock on the old
// inode behind.
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
