package transport

import (
	"net"
	"os"

	"golang.org/x/sys/windows"
)

// peerCred reports the current user: the pipe's DACL (see Listen) lets
// no one else connect, and Windows identities are SIDs, which PeerCred's
// numeric ids cannot express (os.Getuid is -1 here). The client PID is
// filled in when the handle can tell; for the client end of a pipe it is
// the caller's own PID.
func peerCred(c net.Conn) (PeerCred, error) {
	cred := PeerCred{UID: os.Getuid(), GID: os.Getgid()}
	if f, ok := c.(interface{ Fd() uintptr }); ok {
		var pid uint32
		if windows.GetNamedPipeClientProcessId(windows.Handle(f.Fd()), &pid) == nil {
			cred.PID = int(pid)
		}
	}
	return cred, nil
}
