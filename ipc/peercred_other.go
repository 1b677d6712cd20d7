//go:build unix && !linux && !darwin && !freebsd

package ipc

import (
	"fmt"
	"net"
	"runtime"
)

// sockPeerCred is not implemented here: x/sys offers no typed peer
// credential call for this platform.
func sockPeerCred(net.Conn) (PeerCred, error) {
	return PeerCred{}, fmt.Errorf("peer credentials are not supported on %s", runtime.GOOS)
}
