//go:build cgo && !nofido

package fido

// UnwrapAuthData exposes unwrapAuthData to the external tests, which enrol
// hardware credentials whose authenticator data libfido2 also CBOR-wraps.
var UnwrapAuthData = unwrapAuthData
