// Package fido produces WebAuthn assertions with a FIDO2 security key for the
// gateway's step-up MFA (docs/gateway-protocol.md, "WebAuthn assertions").
//
// The agent gets a ceremony from POST /auth/mfa/webauthn/assertion/start,
// turns it into a Request, asks an Authenticator for an Assertion and sends
// Assertion.Response() back as the "assertion_response" string next to the
// untouched "session_data".
//
// Implementations:
//   - Default(): libfido2 in cgo builds (build tags `cgo && !nofido`), else
//     an "unavailable" authenticator, so pure-Go and cross-compiled builds
//     work without WebAuthn.
//   - platform/fido/soft: a software authenticator for tests and the sandbox.
//
// Assertion material is a bearer secret: the server keeps no record of the
// challenge and does not persist sign counters, so a captured
// session_data/assertion pair can be replayed (docs/gateway-protocol.md, "WebAuthn assertions").
// Nothing in this package logs it, and Assertion redacts itself when printed.
package fido

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Names reported by Authenticator.Name.
const (
	NameLibfido2    = "libfido2"
	NameSoftware    = "software"
	NameUnavailable = "unavailable"
)

// Sentinel errors returned (possibly wrapped) by Authenticator.Assert. Callers
// test them with errors.Is; the wrapped detail is for diagnostics only.
var (
	// ErrNoDevice means no security key is connected (or WebAuthn is not
	// built in).
	ErrNoDevice = errors.New("fido: no security key found")
	// ErrNoCredential means none of Request.AllowCredentials lives on the
	// key: the user has plugged in a key not enrolled with this gateway.
	ErrNoCredential = errors.New("fido: security key holds none of the allowed credentials")
	// ErrPINRequired means the key needs a PIN and none could be obtained
	// (Request.PIN is nil).
	ErrPINRequired = errors.New("fido: security key PIN required")
	// ErrPINInvalid means the key rejected the PIN. The key counts wrong
	// PINs and blocks itself, so callers should not retry blindly.
	ErrPINInvalid = errors.New("fido: security key PIN incorrect")
	// ErrPINBlocked means the key refuses PINs until it is re-inserted (too
	// many wrong PINs this power cycle) or at all (retries exhausted).
	ErrPINBlocked = errors.New("fido: security key PIN blocked")
	// ErrCancelled means the ceremony stopped before completion: the context
	// ended, the user did not touch the key in time, or the user declined.
	ErrCancelled = errors.New("fido: cancelled")
)

// Request is one assertion ceremony, from the server's assertion/start answer.
type Request struct {
	// RPID is options.publicKey.rpId, passed to the authenticator as-is.
	RPID string
	// Challenge is options.publicKey.challenge, the base64url string exactly
	// as received; it is copied verbatim into clientDataJSON.
	Challenge string
	// Origin is the gateway origin for clientDataJSON (scheme://host[:port]).
	Origin string
	// AllowCredentials are the raw credential IDs from allowCredentials
	// (already decoded from base64url).
	AllowCredentials [][]byte
	// UserVerification is "", "discouraged", "preferred" or "required".
	// Only "required" makes the authenticator verify the user.
	UserVerification string
	// PIN is called only if the device needs a PIN; it asks the user
	// (through the agent's prompt relay). A key with a PIN set is asked for
	// it unless UserVerification is "discouraged", as a browser does for
	// the default "preferred". A nil PIN then fails with ErrPINRequired.
	PIN func(ctx context.Context) (string, error)
	// Touch is called once when the device is waiting for user presence
	// ("Touch your security key...").
	Touch func()
}

// RequiresUV reports whether the server demands user verification; the
// other values leave it to the authenticator, and a PIN-less touch suffices.
func (r *Request) RequiresUV() bool { return r.UserVerification == "required" }

// Validate checks the fields every implementation needs. An empty allow list
// is ErrNoCredential rather than a discoverable-credential ceremony: the
// gateway always lists the user's credentials, and a resident key picked by
// the device could belong to another account.
func (r *Request) Validate() error {
	switch {
	case r.RPID == "":
		return errors.New("fido: request has no rpId")
	case r.Challenge == "":
		return errors.New("fido: request has no challenge")
	case r.Origin == "":
		return errors.New("fido: request has no origin")
	case len(r.AllowCredentials) == 0:
		return fmt.Errorf("%w: the server allowed no credentials", ErrNoCredential)
	}
	return nil
}

// Allows reports whether id is one of r.AllowCredentials.
func (r *Request) Allows(id []byte) bool {
	for _, c := range r.AllowCredentials {
		if bytes.Equal(c, id) {
			return true
		}
	}
	return false
}

// ClientData builds clientDataJSON for an assertion:
// {"type":"webauthn.get","challenge":<challenge>,"origin":<origin>,"crossOrigin":false}.
//
// The challenge is embedded exactly as the server sent it: the server compares
// strings, so re-encoding it (e.g. adding padding) would fail verification. A
// trailing slash on origin is dropped because browsers never send one.
func ClientData(challenge, origin string) []byte {
	return clientData("webauthn.get", challenge, origin)
}

// clientData is ClientData for either ceremony type ("webauthn.get" or
// "webauthn.create").
func clientData(typ, challenge, origin string) []byte {
	cd := struct {
		Type        string `json:"type"`
		Challenge   string `json:"challenge"`
		Origin      string `json:"origin"`
		CrossOrigin bool   `json:"crossOrigin"`
	}{typ, challenge, strings.TrimSuffix(origin, "/"), false}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// HTML escaping would turn '&' etc. into \u0026; harmless to a JSON
	// parser, but the bytes should look like what a browser produces.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(cd); err != nil {
		panic("fido: encoding client data: " + err.Error()) // strings and a bool always encode
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// Assertion is what the authenticator produced. All fields are raw bytes;
// AuthenticatorData is the raw WebAuthn structure (never CBOR-wrapped).
//
// It prints as a redacted placeholder so that a stray %v or slog attribute
// cannot leak a replayable proof.
type Assertion struct {
	CredentialID, AuthenticatorData, ClientDataJSON, Signature, UserHandle []byte
}

// responseJSON is the PublicKeyCredential JSON of docs/gateway-protocol.md, "WebAuthn assertions".
type responseJSON struct {
	ID       string `json:"id"`
	RawID    string `json:"rawId"`
	Type     string `json:"type"`
	Response struct {
		AuthenticatorData string `json:"authenticatorData"`
		ClientDataJSON    string `json:"clientDataJSON"`
		Signature         string `json:"signature"`
		UserHandle        string `json:"userHandle"`
	} `json:"response"`
}

// Response renders the PublicKeyCredential JSON the server parses:
// {"id","rawId","type":"public-key","response":{"authenticatorData",
// "clientDataJSON","signature","userHandle"}}, every value base64url without
// padding ("userHandle" is "" when the key returned none).
func (a *Assertion) Response() string {
	b64 := base64.RawURLEncoding.EncodeToString
	var r responseJSON
	r.ID = b64(a.CredentialID)
	r.RawID = r.ID
	r.Type = "public-key"
	r.Response.AuthenticatorData = b64(a.AuthenticatorData)
	r.Response.ClientDataJSON = b64(a.ClientDataJSON)
	r.Response.Signature = b64(a.Signature)
	r.Response.UserHandle = b64(a.UserHandle)
	out, err := json.Marshal(r)
	if err != nil {
		panic("fido: encoding assertion: " + err.Error()) // only strings
	}
	return string(out)
}

// Wipe overwrites the assertion's bytes once the caller has sent them, so a
// later heap dump holds less replayable material. Strings already produced by
// Response cannot be wiped; Go gives no way to.
func (a *Assertion) Wipe() {
	for _, b := range [][]byte{a.CredentialID, a.AuthenticatorData, a.ClientDataJSON, a.Signature, a.UserHandle} {
		clear(b)
	}
}

const redacted = "fido.Assertion{REDACTED}"

// String hides the content; see the type's documentation.
func (a *Assertion) String() string { return redacted }

// GoString hides the content from %#v too.
func (a *Assertion) GoString() string { return redacted }

// LogValue hides the content from log/slog.
func (a *Assertion) LogValue() slog.Value { return slog.StringValue(redacted) }

// Authenticator produces assertions. Implementations are safe for concurrent
// use; a hardware key serves one ceremony at a time, so concurrent Asserts on
// it queue.
type Authenticator interface {
	// Name is "libfido2", "software" or "unavailable".
	Name() string
	// Present reports whether a usable device is connected now. It is fast
	// and never needs a touch.
	Present(ctx context.Context) (bool, error)
	// Assert performs the ceremony. It honours ctx (cancel = stop waiting
	// for the touch and return promptly) and returns errors matching
	// ErrNoDevice, ErrNoCredential, ErrPINRequired, ErrPINInvalid,
	// ErrPINBlocked, ErrCancelled, or others.
	Assert(ctx context.Context, req Request) (*Assertion, error)
	// MakeCredential creates a credential for enrolment (see
	// CreationRequest). It honours ctx like Assert and returns errors
	// matching ErrNoDevice, ErrCredentialExcluded, ErrPINRequired,
	// ErrPINInvalid, ErrPINBlocked, ErrCancelled, or others.
	MakeCredential(ctx context.Context, req CreationRequest) (*Credential, error)
}

// Prober is implemented by authenticators that can tell, without a touch or a
// PIN, whether they hold one of a set of credentials. The agent uses it to
// offer WebAuthn only when the plugged-in key is actually enrolled
// (the engine's method choice, agent/stepup). A false answer can be wrong for credentials
// created with credProtect "uv-required", which a key hides until the user
// is verified; callers should treat false as "probably not" and an error as
// "unknown".
type Prober interface {
	HasCredential(ctx context.Context, rpID string, credentialIDs [][]byte) (bool, error)
}

// unavailable is the authenticator of builds without WebAuthn support.
type unavailable struct{}

// Unavailable returns an authenticator that never has a device: Present is
// false and Assert fails with ErrNoDevice. Default returns it in builds
// without libfido2; the agent may also use it when WebAuthn is turned off.
func Unavailable() Authenticator { return unavailable{} }

func (unavailable) Name() string { return NameUnavailable }

func (unavailable) Present(context.Context) (bool, error) { return false, nil }

func (unavailable) Assert(context.Context, Request) (*Assertion, error) {
	return nil, fmt.Errorf("%w: this build has no FIDO2 support", ErrNoDevice)
}
