package fido

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrCredentialExcluded means the security key already holds one of
// CreationRequest.ExcludeCredentials: this key is enrolled for the account.
var ErrCredentialExcluded = errors.New("fido: security key is already enrolled for this account")

// COSE algorithm identifiers a key may be asked for (pubKeyCredParams).
const (
	AlgES256 = -7
	AlgEdDSA = -8
	AlgRS256 = -257
)

// CreationRequest is one registration ceremony, from the server's
// enroll/webauthn/start answer (docs/gateway-protocol.md, "MFA
// enrolment").
type CreationRequest struct {
	// RPID and RPName are publicKey.rp.id and .name.
	RPID, RPName string
	// Challenge is publicKey.challenge exactly as received (base64url);
	// it is copied verbatim into clientDataJSON.
	Challenge string
	// Origin is the gateway origin for clientDataJSON.
	Origin string
	// UserID (decoded from base64url), UserName and UserDisplayName are
	// publicKey.user.
	UserID                    []byte
	UserName, UserDisplayName string
	// Algorithms are the COSE algorithms of pubKeyCredParams, in the
	// server's order of preference; empty means ES256.
	Algorithms []int
	// ExcludeCredentials are the raw IDs of the user's enrolled keys.
	ExcludeCredentials [][]byte
	// UserVerification is authenticatorSelection.userVerification.
	UserVerification string
	// ResidentKey asks for a discoverable credential
	// (authenticatorSelection.residentKey "required").
	ResidentKey bool
	// PIN and Touch are as in Request.
	PIN   func(ctx context.Context) (string, error)
	Touch func()
}

// RequiresUV reports whether the server demands user verification.
func (r *CreationRequest) RequiresUV() bool { return r.UserVerification == "required" }

// Validate checks the fields every implementation needs.
func (r *CreationRequest) Validate() error {
	switch {
	case r.RPID == "":
		return errors.New("fido: creation request has no rp id")
	case r.Challenge == "":
		return errors.New("fido: creation request has no challenge")
	case r.Origin == "":
		return errors.New("fido: creation request has no origin")
	case len(r.UserID) == 0 || r.UserName == "":
		return errors.New("fido: creation request has no user")
	}
	return nil
}

// Excludes reports whether id is one of r.ExcludeCredentials.
func (r *CreationRequest) Excludes(id []byte) bool {
	for _, c := range r.ExcludeCredentials {
		if bytes.Equal(c, id) {
			return true
		}
	}
	return false
}

// Allows reports whether the server accepts COSE algorithm alg.
func (r *CreationRequest) Allows(alg int) bool {
	if len(r.Algorithms) == 0 {
		return alg == AlgES256
	}
	for _, a := range r.Algorithms {
		if a == alg {
			return true
		}
	}
	return false
}

// CreationClientData builds clientDataJSON for a registration: type
// "webauthn.create", the challenge as received, the origin.
func CreationClientData(challenge, origin string) []byte {
	return clientData("webauthn.create", challenge, origin)
}

// Credential is a new credential, ready for the server's enroll confirm.
// Nothing in it is secret: it carries the public key and an attestation.
type Credential struct {
	ID []byte
	// AttestationObject is the CBOR attestation object (fmt "none").
	AttestationObject []byte
	ClientDataJSON    []byte
	// Transports are hints for later assertions ("usb"), possibly none.
	Transports []string
}

// creationJSON is the PublicKeyCredential JSON of a registration, as a
// browser's navigator.credentials.create() serialises it.
type creationJSON struct {
	ID       string `json:"id"`
	RawID    string `json:"rawId"`
	Type     string `json:"type"`
	Response struct {
		AttestationObject string   `json:"attestationObject"`
		ClientDataJSON    string   `json:"clientDataJSON"`
		Transports        []string `json:"transports,omitempty"`
	} `json:"response"`
	ClientExtensionResults  map[string]any `json:"clientExtensionResults"`
	AuthenticatorAttachment string         `json:"authenticatorAttachment,omitempty"`
}

// Response is the credential as the JSON object the server's enroll
// confirm takes in its "credential" member.
func (c *Credential) Response() json.RawMessage {
	b64 := base64.RawURLEncoding.EncodeToString
	var r creationJSON
	r.ID = b64(c.ID)
	r.RawID = r.ID
	r.Type = "public-key"
	r.Response.AttestationObject = b64(c.AttestationObject)
	r.Response.ClientDataJSON = b64(c.ClientDataJSON)
	r.Response.Transports = c.Transports
	r.ClientExtensionResults = map[string]any{}
	r.AuthenticatorAttachment = "cross-platform"
	out, err := json.Marshal(r)
	if err != nil {
		panic("fido: encoding credential: " + err.Error()) // strings only
	}
	return out
}

// Authenticator data flags (WebAuthn §6.1).
const (
	flagUserPresent  = 0x01
	flagUserVerified = 0x04
	flagAttested     = 0x40
)

// AttestedAuthData builds authenticator data with attested credential
// data: sha256(rpId) ‖ flags (UP, UV when uv, AT) ‖ signCount ‖ a zero
// AAGUID ‖ len(id) ‖ id ‖ the COSE public key. It is what a software key
// answers and what a "none" attestation may carry.
func AttestedAuthData(rpIDHash [32]byte, uv bool, signCount uint32, credID, coseKey []byte) []byte {
	flags := byte(flagUserPresent | flagAttested)
	if uv {
		flags |= flagUserVerified
	}
	out := make([]byte, 0, 37+16+2+len(credID)+len(coseKey))
	out = append(out, rpIDHash[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, signCount)
	out = append(out, make([]byte, 16)...) // AAGUID
	out = binary.BigEndian.AppendUint16(out, uint16(len(credID)))
	out = append(out, credID...)
	return append(out, coseKey...)
}

// NoneAttestation encodes the attestation object {"fmt": "none",
// "attStmt": {}, "authData": authData} in CBOR. "none" is what a browser
// sends when the relying party asks for no attestation, the gateway's
// default; the object is small and fixed enough to encode by hand.
func NoneAttestation(authData []byte) []byte {
	out := []byte{0xa3}
	out = cborText(out, "fmt")
	out = cborText(out, "none")
	out = cborText(out, "attStmt")
	out = append(out, 0xa0) // map(0)
	out = cborText(out, "authData")
	return cborBytes(out, authData)
}

func cborText(out []byte, s string) []byte {
	return append(cborHead(out, 3, len(s)), s...)
}

func cborBytes(out, b []byte) []byte {
	return append(cborHead(out, 2, len(b)), b...)
}

// cborHead appends a definite-length header of major type major.
func cborHead(out []byte, major byte, n int) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(out, m|byte(n))
	case n < 1<<8:
		return append(out, m|24, byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(out, m|25), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(out, m|26), uint32(n))
	}
}

func (unavailable) MakeCredential(context.Context, CreationRequest) (*Credential, error) {
	return nil, fmt.Errorf("%w: this build has no FIDO2 support", ErrNoDevice)
}
