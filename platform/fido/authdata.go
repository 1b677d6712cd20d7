//go:build cgo && !nofido

package fido

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
)

// minAuthData is rpIdHash (32) + flags (1) + signCount (4).
const minAuthData = 37

// unwrapAuthData returns the raw WebAuthn authenticator data from what a
// libfido2 binding handed back.
//
// libfido2's fido_assert_authdata_ptr (and fido_cred_authdata_ptr) return
// the authenticator data as a CBOR byte string, i.e. with a 0x58 0x25-style
// header in front (Yubico/libfido2 issues #241, #690), and go-libfido2
// v1.5.4-0.20230628025503 passes that through as Assertion.AuthDataCBOR. The
// gateway hashes the raw bytes when it checks the signature, so the header
// must go. Newer bindings may return raw bytes already, so both forms are
// accepted, told apart by the rpIdHash the data must start with: that also
// rejects a device answering for a different RP.
func unwrapAuthData(b []byte, rpID string) ([]byte, error) {
	want := sha256.Sum256([]byte(rpID))
	if len(b) >= minAuthData && bytes.Equal(b[:32], want[:]) {
		return b, nil
	}
	raw, ok := cborByteString(b)
	if !ok {
		return nil, errors.New("fido: authenticator data is neither raw nor a CBOR byte string")
	}
	if len(raw) < minAuthData || !bytes.Equal(raw[:32], want[:]) {
		return nil, errors.New("fido: authenticator data is not for the requested rpId")
	}
	return raw, nil
}

// cborByteString decodes b as exactly one definite-length CBOR byte string
// (major type 2) and returns its content. Anything else, including trailing
// bytes, is refused.
func cborByteString(b []byte) ([]byte, bool) {
	if len(b) == 0 || b[0]>>5 != 2 {
		return nil, false
	}
	var n uint64
	hdr := 1
	switch info := b[0] & 0x1f; {
	case info < 24:
		n = uint64(info)
	case info == 24 && len(b) >= 2:
		n, hdr = uint64(b[1]), 2
	case info == 25 && len(b) >= 3:
		n, hdr = uint64(binary.BigEndian.Uint16(b[1:])), 3
	case info == 26 && len(b) >= 5:
		n, hdr = uint64(binary.BigEndian.Uint32(b[1:])), 5
	case info == 27 && len(b) >= 9:
		n, hdr = binary.BigEndian.Uint64(b[1:]), 9
	default:
		return nil, false // indefinite length, reserved or truncated header
	}
	if uint64(len(b)-hdr) != n {
		return nil, false
	}
	return b[hdr:], true
}
