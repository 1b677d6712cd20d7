//go:build unix && !linux && !darwin && !freebsd

package transport

import (
	"fmt"
	"net"
	"runtime"
)

// peerCred is not implemented here: x/sys offers no typed peer
// credential call for this platform.
func peerCred(net.Conn) (PeerCred, error) {
	return PeerCred{}, fmt.Errorf("peer credentials are not supported on %s", runtime.GOOS)
}
