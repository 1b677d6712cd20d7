//go:build unix

package transport

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"syscall"
)

// Dial connects to the agent socket at path once, honouring ctx's deadline
// and cancellation.
//
// The server's identity is not checked here: on Unix the socket lives in an
// owner-only directory (see RuntimeDir), so only we or root can have put a
// listener there.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}

// IsNotRunning reports whether err from Dial means that no agent is
// listening: the socket (or its directory) does not exist, or nothing
// accepts on it any more (ECONNREFUSED, left behind by a crashed agent).
// Other errors, such as permission denied, mean something is wrong rather
// than absent, and starting a new agent would not help.
func IsNotRunning(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED)
}

// retryable reports whether DialRetry should try again after err.
func retryable(err error) bool { return IsNotRunning(err) }
