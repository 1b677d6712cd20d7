//go:build unix

package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
)

// appName names the runtime directory; fileName is the socket in it.
const (
	appName  = "rack-gateway"
	fileName = "agent.sock"
)

// RuntimeDir returns the owner-only directory that holds the agent socket
// and status file, creating it if needed.
//
// On Linux and the BSDs it is $XDG_RUNTIME_DIR/rack-gateway: that base is
// per-user, cleaned at logout and usually a tmpfs. Without XDG_RUNTIME_DIR
// (or when it is not absolute, which the XDG spec says to ignore), and always
// on macOS, where the variable is not part of the platform, it is
// $TMPDIR/rack-gateway-<uid>.
//
// The directory's permissions are the whole access control for the socket,
// so an existing directory must be a real directory (not a symlink), owned by
// the current uid, with mode exactly 0700; otherwise RuntimeDir returns an
// error naming the path, the problem and the fix. For $XDG_RUNTIME_DIR itself
// it only requires that it exists and is ours, since the session manager
// owns its mode.
func RuntimeDir() (string, error) {
	uid := os.Getuid()
	if base := os.Getenv("XDG_RUNTIME_DIR"); base != "" && filepath.IsAbs(base) && !isApple() {
		if err := checkXDG(base, uid); err != nil {
			return "", err
		}
		dir := filepath.Join(base, appName)
		return dir, ensurePrivateDir(dir)
	}
	// os.TempDir is shared on Linux (/tmp), so the uid in the name keeps
	// users from colliding; /tmp's sticky bit stops others from renaming or
	// deleting our directory once it exists, and the owner check below
	// refuses one that someone else created first.
	dir := filepath.Join(os.TempDir(), appName+"-"+strconv.Itoa(uid))
	return dir, ensurePrivateDir(dir)
}

// SocketPath returns the path of the agent socket, RuntimeDir()/agent.sock.
// It creates the runtime directory if needed.
func SocketPath() (string, error) {
	dir, err := RuntimeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, fileName), nil
}

func isApple() bool { return runtime.GOOS == "darwin" || runtime.GOOS == "ios" }

// checkXDG checks the XDG base directory. Symlinks are followed here
// because some setups link it; what matters is who owns the target.
func checkXDG(base string, uid int) error {
	fi, err := os.Stat(base)
	if err != nil {
		return fmt.Errorf("XDG_RUNTIME_DIR=%s is not usable: %w (unset it or point it at your runtime directory)", base, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("XDG_RUNTIME_DIR=%s is not a directory (unset it or point it at your runtime directory)", base)
	}
	if owner, ok := ownerOf(fi); !ok || owner != uid {
		return fmt.Errorf("XDG_RUNTIME_DIR=%s is owned by uid %d, not by you (uid %d); unset XDG_RUNTIME_DIR or point it at your own runtime directory", base, owner, uid)
	}
	return nil
}

// ensurePrivateDir creates dir with mode 0700 if it is missing (one
// level only: a missing parent is a configuration problem worth reporting)
// and then verifies it with checkPrivateDir.
func ensurePrivateDir(dir string) error {
	err := os.Mkdir(dir, 0o700)
	switch {
	case err == nil:
		// Mkdir's mode is filtered by the umask, which can only remove
		// bits; an unusual umask that strips the owner's bits would make
		// the check below fail on a directory we just made, so set the
		// mode explicitly. This cannot widen access beyond 0700.
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("setting mode 0700 on runtime directory %s: %w", dir, err)
		}
	case errors.Is(err, fs.ErrExist):
		// Checked below; never "repaired", since a directory someone else
		// prepared is exactly what we must not trust.
	default:
		return fmt.Errorf("creating runtime directory %s: %w", dir, err)
	}
	return checkPrivateDir(dir)
}

// checkPrivateDir verifies that dir is a directory (not a symlink),
// owned by us, with mode exactly 0700. Lstat is used on purpose: a symlink
// could point into a directory another user controls.
func checkPrivateDir(dir string) error {
	uid := os.Getuid()
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking runtime directory: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("runtime directory %s is a symlink; refusing to use it because it could point anywhere (remove it with: rm %s)", dir, dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("runtime directory %s exists but is not a directory (move it away and retry)", dir)
	}
	owner, ok := ownerOf(fi)
	if !ok {
		return fmt.Errorf("runtime directory %s: cannot determine its owner", dir)
	}
	if owner != uid {
		return fmt.Errorf("runtime directory %s is owned by uid %d, not by you (uid %d); another user may be trying to intercept the agent socket. Remove it (as root: rm -rf %s) or set XDG_RUNTIME_DIR", dir, owner, uid, dir)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		return fmt.Errorf("runtime directory %s has mode %04o, want 0700 so that only you can reach the agent socket (fix with: chmod 700 %s)", dir, perm, dir)
	}
	return nil
}

// ownerOf returns the uid that owns fi.
func ownerOf(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, false
	}
	return int(st.Uid), true
}
