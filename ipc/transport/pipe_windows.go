package transport

// Named-pipe transport for Windows. This is compile-checked but has not been
// exercised at runtime yet.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"time"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

// probeTimeout bounds the "is an agent already there?" dial in Listen.
const probeTimeout = 500 * time.Millisecond

// Listen creates the named pipe at path (e.g. from SocketPath).
//
// The pipe's security descriptor makes the current user its owner and
// grants access only to that user and SYSTEM, so other users cannot even
// open it; the accept-time uid check of the Unix listener is kept for
// uniformity but is trivially satisfied. go-winio creates the first
// instance with FILE_CREATE, so an existing pipe (a live agent, or another
// user squatting the name) makes creation fail instead of sharing the name.
// In that case Listen dials the pipe: if our own agent answers it returns
// an error wrapping ErrAgentRunning, otherwise the creation error.
func Listen(path string, opts ListenOptions) (net.Listener, error) {
	sddl, err := pipeSDDL()
	if err != nil {
		return nil, err
	}
	l, err := winio.ListenPipe(path, &winio.PipeConfig{SecurityDescriptor: sddl})
	if err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		defer cancel()
		if c, derr := Dial(ctx, path); derr == nil {
			_ = c.Close()
			return nil, fmt.Errorf("%w on %s", ErrAgentRunning, path)
		}
		return nil, fmt.Errorf("creating named pipe %s: %w", path, err)
	}
	return wrapDialErr(l, opts, nil), nil
}

// Dial connects to the named pipe at path once, honouring ctx's deadline.
//
// Unlike a Unix socket in a private directory, a pipe name can be taken by
// any user who gets there first, so Dial checks that the pipe is owned by
// the current user before returning it; otherwise a squatter could pose as
// the agent and, for example, collect MFA answers.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	c, err := winio.DialPipeContext(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := checkPipeOwner(c, path); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// IsNotRunning reports whether err from Dial means that no agent is
// listening: the pipe does not exist. Other errors (access denied, an
// owner mismatch) mean something is wrong rather than absent.
func IsNotRunning(err error) bool {
	return errors.Is(err, fs.ErrNotExist) ||
		errors.Is(err, windows.ERROR_FILE_NOT_FOUND) ||
		errors.Is(err, windows.ERROR_PATH_NOT_FOUND)
}

// retryable reports whether DialRetry should try again after err. A busy
// pipe means the agent is up but has no free instance yet, which, like a
// missing pipe during startup, resolves itself in milliseconds.
func retryable(err error) bool {
	return IsNotRunning(err) || errors.Is(err, windows.ERROR_PIPE_BUSY)
}

// currentSID returns the SID of the user running this process.
func currentSID() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("looking up the current user's SID: %w", err)
	}
	return tu.User.Sid, nil
}

// pipeSDDL builds the pipe's security descriptor: owner is the current
// user (set explicitly, because an elevated token's default owner is the
// Administrators group, which would fail Dial's owner check), and a
// protected DACL (no inherited entries) granting full access to the user
// and SYSTEM only.
func pipeSDDL() (string, error) {
	sid, err := currentSID()
	if err != nil {
		return "", err
	}
	s := sid.String()
	return "O:" + s + "D:P(A;;GA;;;" + s + ")(A;;GA;;;SY)", nil
}

// checkPipeOwner verifies that the server end of c is owned by the
// current user. Opening the pipe with GENERIC_READ includes READ_CONTROL,
// so the security descriptor is readable through the client handle.
func checkPipeOwner(c net.Conn, path string) error {
	f, ok := c.(interface{ Fd() uintptr })
	if !ok {
		return fmt.Errorf("named pipe %s: unexpected connection type %T", path, c)
	}
	me, err := currentSID()
	if err != nil {
		return err
	}
	sd, err := windows.GetSecurityInfo(windows.Handle(f.Fd()), windows.SE_KERNEL_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("named pipe %s: reading its owner: %w", path, err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return fmt.Errorf("named pipe %s: reading its owner: %w", path, err)
	}
	if owner == nil || !owner.Equals(me) {
		return fmt.Errorf("named pipe %s is owned by %v, not by you (%v); refusing to talk to it", path, owner, me)
	}
	return nil
}
