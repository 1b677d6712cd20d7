//go:build !(linux || freebsd || netbsd || openbsd || dragonfly)

package secrets

import "errors"

// errNoSessionBus never occurs where the keyring does not use D-Bus (macOS
// Keychain, Windows Credential Manager).
var errNoSessionBus = errors.New("no D-Bus session bus")

// useSessionBus has nothing to check outside the D-Bus platforms.
func useSessionBus() error { return nil }
