//go:build darwin || freebsd

package transport

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// xucredVersion is XUCRED_VERSION from <sys/ucred.h>; x/sys does not
// export it. A different version would mean the struct layout changed.
const xucredVersion = 0

// peerCred reads LOCAL_PEERCRED (what getpeereid uses) for uid and gid.
// The kernel records it at connect() time, so the peer cannot forge it.
func peerCred(c net.Conn) (PeerCred, error) {
	raw, err := rawConnOf(c)
	if err != nil {
		return PeerCred{}, err
	}
	var (
		cred PeerCred
		serr error
	)
	if err := raw.Control(func(fd uintptr) {
		xu, err := unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if err != nil {
			serr = fmt.Errorf("LOCAL_PEERCRED: %w", err)
			return
		}
		if xu.Version != xucredVersion {
			serr = fmt.Errorf("LOCAL_PEERCRED: unexpected xucred version %d", xu.Version)
			return
		}
		cred.UID = int(xu.Uid)
		// cr_groups[0] is the effective gid, as getpeereid reports it.
		cred.GID = -1
		if xu.Ngroups > 0 {
			cred.GID = int(xu.Groups[0])
		}
		cred.PID = peerPID(int(fd))
	}); err != nil {
		return PeerCred{}, fmt.Errorf("peer credentials: %w", err)
	}
	if serr != nil {
		return PeerCred{}, fmt.Errorf("peer credentials: %w", serr)
	}
	return cred, nil
}
