//go:build cgo && !nofido

package fido

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

func authData(rpID string, extra int) []byte {
	h := sha256.Sum256([]byte(rpID))
	ad := append(h[:], 0x05, 0, 0, 0, 7)
	return append(ad, bytes.Repeat([]byte{0xaa}, extra)...)
}

func TestUnwrapAuthData(t *testing.T) {
	const rp = "gateway.example.com"
	raw := authData(rp, 0)
	long := authData(rp, 300) // attested credential data / extensions
	cases := []struct {
		name string
		in   []byte
		want []byte // nil: error expected
	}{
		{"raw passes through", raw, raw},
		{"go-libfido2 form 0x58 0x25", append([]byte{0x58, 0x25}, raw...), raw},
		{"two-byte length 0x59", append([]byte{0x59, 0x01, 0x51}, long...), long},
		{"four-byte length 0x5a", append([]byte{0x5a, 0, 0, 0, 0x25}, raw...), raw},
		{"other rpId", append([]byte{0x58, 0x25}, authData("evil.example.com", 0)...), nil},
		{"raw for other rpId", authData("evil.example.com", 0), nil},
		{"length mismatch", append([]byte{0x58, 0x26}, raw...), nil},
		{"trailing byte", append(append([]byte{0x58, 0x25}, raw...), 0), nil},
		{"text string, not bytes", append([]byte{0x78, 0x25}, raw...), nil},
		{"indefinite length", append([]byte{0x5f, 0x58, 0x25}, append(raw, 0xff)...), nil},
		{"truncated header", []byte{0x59, 0x01}, nil},
		{"too short", []byte{0x43, 1, 2, 3}, nil},
		{"empty", nil, nil},
	}
	for _, c := range cases {
		got, err := unwrapAuthData(c.in, rp)
		if c.want == nil {
			if err == nil {
				t.Errorf("%s: accepted", c.name)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s: got %x, %v", c.name, got, err)
		}
	}
}
