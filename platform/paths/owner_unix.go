//go:build unix

package paths

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkOwnerAndMode enforces "ours and 0700" on Unix. Owner is checked before
// bits so that we never chmod somebody else's directory (we could not as a
// normal user anyway, but root could, and silently would be wrong).
func checkOwnerAndMode(dir string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("paths: cannot read the owner of %s", dir)
	}
	if uid := os.Getuid(); int(st.Uid) != uid {
		return fmt.Errorf("paths: %s is owned by uid %d, not by the current user (uid %d); refusing to use it for private files", dir, st.Uid, uid)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("paths: %s has mode %04o and could not be restricted to 0700: %w", dir, fi.Mode().Perm(), err)
		}
	}
	return nil
}
