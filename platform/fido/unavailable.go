//go:build !cgo || nofido

package fido

// Default returns the build's hardware authenticator. This build has no
// libfido2 (cgo is off or the nofido tag is set), so it is Unavailable: the
// agent then offers only TOTP-class factors.
func Default() Authenticator { return Unavailable() }
