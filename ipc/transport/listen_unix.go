//go:build linux || darwin || freebsd

package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// probeTimeout bounds the liveness probe of an existing socket. A
	// live agent answers at once (the kernel completes connect() from the
	// listen backlog), so this only matters for a wedged machine.
	probeTimeout = 500 * time.Millisecond

	// lockWait bounds how long Listen or Close waits for another
	// process's check-and-bind. That section takes at most about
	// probeTimeout, so waiting longer means something is stuck.
	lockWait = 3 * time.Second

	// lockSuffix names the lock file next to the socket.
	lockSuffix = ".lock"

	// maxPath is the smallest sun_path size among supported systems
	// (104 on macOS and FreeBSD, 108 on Linux); used only for error hints.
	maxPath = 104
)

// Listen listens for agent clients on the Unix socket at path.
//
// The parent directory is created (one level) if missing and must pass the
// same owner-only checks as RuntimeDir, since it is what keeps other users
// away from the socket.
//
// If a socket file already exists, Listen dials it (for at most ~500 ms).
// If something answers, Listen returns an error wrapping ErrAgentRunning and
// leaves the file alone: a live agent is never displaced. (That agent sees
// the probe as a connection that closes without sending anything.) If the
// connection is refused the file is left over from a dead agent and is
// replaced. Any other file type at path is reported, never deleted.
//
// The check-and-replace runs under an flock on path+".lock" so that two
// agents starting together cannot both decide the socket is stale and then
// remove each other's fresh socket. The lock file is left in place:
// deleting lock files reintroduces exactly that race.
//
// The socket is made 0600. It is created inside the 0700 directory, so the
// umask-dependent mode it has between bind and chmod is never reachable by
// others, and the process-wide umask is left untouched.
//
// Accept on the returned listener yields *Conn values only for peers with
// our uid; others are passed to opts.OnReject and closed. Closing the
// listener removes the socket file only if it is still the one this
// listener created.
func Listen(path string, opts ListenOptions) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("listen: empty socket path")
	}
	if err := ensurePrivateDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	unlock, err := lockSocket(path)
	if err != nil {
		return nil, err
	}
	defer unlock()

	if err := clearStale(path); err != nil {
		return nil, err
	}
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		if errors.Is(err, syscall.EINVAL) && len(path) >= maxPath {
			// bind's bare EINVAL is baffling; this is the usual cause.
			return nil, fmt.Errorf("listening on %s: the path is %d bytes, longer than Unix sockets allow (about %d); use a shorter directory: %w", path, len(path), maxPath, err)
		}
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	// Close removes the file itself, and only if it is still ours; Go's
	// unconditional unlink could delete a successor agent's socket.
	ul.SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, error) {
		_ = ul.Close()
		_ = os.Remove(path)
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fail(fmt.Errorf("setting mode 0600 on %s: %w", path, err))
	}
	ours, err := os.Lstat(path)
	if err != nil {
		return fail(fmt.Errorf("listening on %s: %w", path, err))
	}
	return wrapDialErr(ul, opts, func() error { return removeIfOurs(path, ours) }), nil
}

// clearStale makes path free for bind, or explains why it cannot be.
// The caller holds the lock, so no other agent changes path meanwhile.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket (mode %v); refusing to replace it, move it away if it is not needed", path, fi.Mode())
	}
	c, err := net.DialTimeout("unix", path, probeTimeout)
	switch {
	case err == nil:
		_ = c.Close()
		return fmt.Errorf("%w on %s", ErrAgentRunning, path)
	case errors.Is(err, syscall.ECONNREFUSED):
		// Nobody listens: the agent that made it died without cleanup.
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing stale socket %s: %w", path, err)
		}
		return nil
	case errors.Is(err, fs.ErrNotExist):
		// Removed between Lstat and dial (e.g. by hand): free now.
		return nil
	case errors.Is(err, syscall.EAGAIN) || os.IsTimeout(err):
		// A full backlog or slow answer still means a live listener.
		return fmt.Errorf("%w on %s (it is not accepting connections quickly: %v)", ErrAgentRunning, path, err)
	default:
		return fmt.Errorf("checking existing socket %s: %w; not replacing it", path, err)
	}
}

// removeIfOurs removes the socket at path if it is the file described
// by ours. Device+inode alone could match a recycled inode, so the
// modification time (set at bind, nanosecond resolution) is compared too.
func removeIfOurs(path string, ours fs.FileInfo) error {
	unlock, err := lockSocket(path)
	if err != nil {
		return err
	}
	defer unlock()
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking %s before removal: %w", path, err)
	}
	if !os.SameFile(fi, ours) || !fi.ModTime().Equal(ours.ModTime()) {
		return nil // replaced by another agent; it is not ours to remove
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing socket %s: %w", path, err)
	}
	return nil
}

// lockSocket takes an exclusive flock on path+".lock" and returns the unlock
// function. It polls with LOCK_NB so a stuck holder produces an error
// after lockWait instead of hanging the agent's startup forever.
func lockSocket(path string) (func(), error) {
	name := path + lockSuffix
	// O_NOFOLLOW: the directory is ours, but refusing a symlink costs
	// nothing and keeps us from ever creating files elsewhere.
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file %s: %w", name, err)
	}
	raw, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	flock := func(how int) (err error) {
		if cerr := raw.Control(func(fd uintptr) { err = unix.Flock(int(fd), how) }); cerr != nil {
			return cerr
		}
		return err
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := flock(unix.LOCK_EX | unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", name, err)
		}
		if time.Now().After(deadline) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: still held by another process after %v", name, lockWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return func() {
		_ = flock(unix.LOCK_UN)
		_ = f.Close() // closing releases the lock anyway; unlock is explicit for clarity
	}, nil
}
