package transport

import "golang.org/x/sys/unix"

// peerPID reads LOCAL_PEERPID. The pid is a nicety for logs, so a
// failure yields 0 rather than refusing the peer.
func peerPID(fd int) int {
	pid, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	if err != nil {
		return 0
	}
	return pid
}
