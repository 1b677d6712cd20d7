package transport

import (
	"fmt"
	"net"
	"syscall"
)

// PeerCredOf returns the credentials of the process on the other end of a
// local connection, as recorded by the kernel when the connection was made.
//
// For a *Conn from Listen it returns the credentials captured at accept.
// Otherwise c must be a Unix-socket connection (anything with a
// SyscallConn): Linux uses SO_PEERCRED; macOS uses LOCAL_PEERCRED plus
// LOCAL_PEERPID; FreeBSD uses LOCAL_PEERCRED (PID 0). On Windows the named
// pipe's ACL already restricts clients to the current user, so it reports
// the current user, with the client PID when the pipe can tell.
func PeerCredOf(c net.Conn) (PeerCred, error) {
	if pc, ok := c.(*Conn); ok {
		return pc.Peer, nil
	}
	return peerCred(c)
}

// rawConnOf returns the raw descriptor access of c.
func rawConnOf(c net.Conn) (syscall.RawConn, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("peer credentials: %T has no file descriptor", c)
	}
	return sc.SyscallConn()
}
