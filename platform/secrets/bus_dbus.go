//go:build linux || freebsd || netbsd || openbsd || dragonfly

package secrets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// errNoSessionBus is why the Secret Service is not used on a machine with no
// D-Bus session bus (an SSH login to a server, a container, CI).
var errNoSessionBus = errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and there is no $XDG_RUNTIME_DIR/bus)")

// useSessionBus lets a keyring call go ahead only when a session bus is
// reachable, and makes sure godbus connects to that bus rather than start
// one.
//
// go-keyring connects through godbus, which reads DBUS_SESSION_BUS_ADDRESS,
// then looks for /run/user/<uid>/bus, and otherwise runs dbus-launch. On a
// headless machine with dbus-x11 installed, that starts a dbus-daemon (and
// the bus then activates a gnome-keyring-daemon) that outlives the agent:
// one pair per agent start and per API-token command. So: with
// DBUS_SESSION_BUS_ADDRESS set (and not "autolaunch:"), use it; else, when
// $XDG_RUNTIME_DIR/bus is a socket (systemd's per-user bus), point
// DBUS_SESSION_BUS_ADDRESS at it explicitly; else refuse before godbus is
// ever called. The variables are the agent's own: the bus belongs to the
// session the agent runs in, whatever terminal is calling.
func useSessionBus() error {
	if addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); addr != "" && !strings.HasPrefix(addr, "autolaunch:") {
		return nil
	}
	rt := os.Getenv("XDG_RUNTIME_DIR")
	if rt == "" || !filepath.IsAbs(rt) {
		return errNoSessionBus
	}
	bus := filepath.Join(rt, "bus")
	if fi, err := os.Stat(bus); err != nil || fi.Mode()&os.ModeSocket == 0 {
		return errNoSessionBus
	}
	return os.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+escapeBusValue(bus))
}

// escapeBusValue escapes a D-Bus address value: bytes outside the optionally
// escaped set [-0-9A-Za-z_/.\*] become %xx (D-Bus specification, "Server
// Addresses").
func escapeBusValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '/', c == '.', c == '\\', c == '*':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}
