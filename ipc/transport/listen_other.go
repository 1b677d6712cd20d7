//go:build unix && !linux && !darwin && !freebsd

package transport

import (
	"fmt"
	"net"
	"runtime"
)

// Listen is not supported on this platform: without a way to read the
// peer's credentials (see PeerCredOf) the listener could not keep other
// users out, and failing at startup is clearer than refusing every client.
func Listen(path string, opts ListenOptions) (net.Listener, error) {
	return nil, fmt.Errorf("listen on %s: the agent transport is not supported on %s", path, runtime.GOOS)
}
