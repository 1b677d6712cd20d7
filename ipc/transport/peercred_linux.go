package transport

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// peerCred reads SO_PEERCRED, which the kernel fills in at connect()
// time; it describes the connecting process and cannot be forged by it.
func peerCred(c net.Conn) (PeerCred, error) {
	raw, err := rawConnOf(c)
	if err != nil {
		return PeerCred{}, err
	}
	var (
		cred *unix.Ucred
		serr error
	)
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return PeerCred{}, fmt.Errorf("peer credentials: %w", err)
	}
	if serr != nil {
		return PeerCred{}, fmt.Errorf("peer credentials: SO_PEERCRED: %w", serr)
	}
	return PeerCred{UID: int(cred.Uid), GID: int(cred.Gid), PID: int(cred.Pid)}, nil
}
