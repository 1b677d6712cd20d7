package ipc

import "golang.org/x/sys/unix"

// sockPeerPID reads LOCAL_PEERPID. The pid is a nicety for logs, so a
// failure yields 0 rather than refusing the peer.
func sockPeerPID(fd int) int {
	pid, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	if err != nil {
		return 0
	}
	return pid
}
