// Package soft is a software FIDO2 authenticator with one ES256 credential.
//
// It stands in for a security key in tests (the machines that run them have
// no USB, uhid or USB/IP, so no real or virtual device can exist) and in the
// sandbox demo, where its credential is enrolled through PublicKeyCOSE. It
// behaves like a simple CTAP2 key: it answers only for its own credential,
// sets UP on every assertion and UV when the server requires it or a PIN was
// checked, and counts signatures.
//
// Its private key sits in memory and, after Save, in a 0600 file: it is a
// test and demo tool, not a place to keep a real second factor.
package soft

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/platform/fido"
	"github.com/rack-gateway/rack-gateway/platform/paths"
)

// Authenticator flags (the WebAuthn authenticator data flags).
const (
	flagUP = 0x01
	flagUV = 0x04
)

// credentialIDLen is the length of generated credential IDs; real keys use
// 16 to several hundred bytes, and the server treats them as opaque.
const credentialIDLen = 32

// Authenticator is a software authenticator. It implements fido.Authenticator
// and fido.Prober and is safe for concurrent use.
type Authenticator struct {
	mu         sync.Mutex
	key        *ecdsa.PrivateKey
	credID     []byte
	userHandle []byte
	signCount  uint32
	present    bool
	fail       error
	pin        string
	touchDelay time.Duration
}

var (
	_ fido.Authenticator = (*Authenticator)(nil)
	_ fido.Prober        = (*Authenticator)(nil)
)

// Option configures an Authenticator at New or Load.
type Option func(*Authenticator)

// Unplugged makes the authenticator start disconnected: Present is false and
// Assert fails with fido.ErrNoDevice until SetPresent(true).
func Unplugged() Option { return func(a *Authenticator) { a.present = false } }

// WithPIN makes it behave like a key with clientPin set: Assert asks
// Request.PIN and checks the answer (fido.ErrPINRequired, fido.ErrPINInvalid),
// and a correct PIN sets UV, as it does on hardware.
func WithPIN(pin string) Option { return func(a *Authenticator) { a.pin = pin } }

// WithUserHandle sets the user handle returned in assertions, as a
// discoverable credential would. Without it the handle is empty, as for the
// server-side credentials the gateway enrols.
func WithUserHandle(h []byte) Option {
	return func(a *Authenticator) { a.userHandle = append([]byte(nil), h...) }
}

// WithTouchDelay simulates the wait for a touch: after calling
// Request.Touch, Assert waits d (honouring ctx) before signing. A negative d
// means the touch never comes, so only cancellation ends the ceremony.
func WithTouchDelay(d time.Duration) Option { return func(a *Authenticator) { a.touchDelay = d } }

// New generates a fresh P-256 credential.
func New(opts ...Option) (*Authenticator, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("soft: generating key: %w", err)
	}
	id := make([]byte, credentialIDLen)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("soft: generating credential id: %w", err)
	}
	return build(key, id, nil, 0, opts), nil
}

func build(key *ecdsa.PrivateKey, id, userHandle []byte, count uint32, opts []Option) *Authenticator {
	a := &Authenticator{key: key, credID: id, userHandle: userHandle, signCount: count, present: true}
	for _, o := range opts {
		o(a)
	}
	return a
}

// fileV1 is the layout Save writes.
type fileV1 struct {
	Version      int    `json:"version"`
	CredentialID []byte `json:"credential_id"`
	PrivateKey   []byte `json:"private_key_pkcs8"`
	UserHandle   []byte `json:"user_handle,omitempty"`
	SignCount    uint32 `json:"sign_count"`
}

// Save writes the credential to path as 0600 JSON, atomically, so the
// sandbox demo keeps the same enrolled credential across runs.
func (a *Authenticator) Save(path string) error {
	a.mu.Lock()
	der, err := x509.MarshalPKCS8PrivateKey(a.key)
	f := fileV1{Version: 1, CredentialID: a.credID, PrivateKey: der, UserHandle: a.userHandle, SignCount: a.signCount}
	a.mu.Unlock()
	if err != nil {
		return fmt.Errorf("soft: encoding key: %w", err)
	}
	data, err := json.Marshal(f)
	clear(der)
	if err != nil {
		return fmt.Errorf("soft: encoding %s: %w", path, err)
	}
	defer clear(data)
	if err := paths.WriteFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("soft: %w", err)
	}
	return nil
}

// Load reads a credential written by Save. On Unix it refuses a file that
// group or others can read, as ssh does for private keys.
func Load(path string, opts ...Option) (*Authenticator, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("soft: %w", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("soft: %s is accessible by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("soft: %w", err)
	}
	defer clear(data)
	var f fileV1
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("soft: parsing %s: %w", path, err)
	}
	defer clear(f.PrivateKey)
	if f.Version != 1 {
		return nil, fmt.Errorf("soft: %s has unsupported version %d", path, f.Version)
	}
	if len(f.CredentialID) == 0 {
		return nil, fmt.Errorf("soft: %s has no credential id", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(f.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("soft: parsing key in %s: %w", path, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("soft: %s does not hold a P-256 key", path)
	}
	return build(key, f.CredentialID, f.UserHandle, f.SignCount, opts), nil
}

// CredentialID returns a copy of the credential ID.
func (a *Authenticator) CredentialID() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]byte(nil), a.credID...)
}

// UserHandle returns a copy of the user handle (nil unless WithUserHandle).
func (a *Authenticator) UserHandle() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]byte(nil), a.userHandle...)
}

// SignCount returns the number of assertions signed so far.
func (a *Authenticator) SignCount() uint32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.signCount
}

// PublicKeyCOSE returns the credential public key as a COSE_Key (RFC 9053
// EC2, alg ES256, crv P-256), the form the server stores at enrolment and
// go-webauthn verifies with.
func (a *Authenticator) PublicKeyCOSE() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return coseES256(&a.key.PublicKey)
}

// coseES256 encodes a P-256 public key as the canonical CBOR map
// {1:2, 3:-7, -1:1, -2:x, -3:y}; fixed-size fields make hand encoding simpler
// and more auditable than pulling in a CBOR library.
func coseES256(pub *ecdsa.PublicKey) []byte {
	raw, err := pub.Bytes() // 0x04 || x || y, 32 bytes each
	if err != nil {
		panic("soft: P-256 public key does not encode: " + err.Error())
	}
	out := []byte{
		0xa5,       // map(5)
		0x01, 0x02, // kty: EC2
		0x03, 0x26, // alg: -7 (ES256)
		0x20, 0x01, // crv: P-256
		0x21, 0x58, 0x20, // x: bytes(32)
	}
	out = append(out, raw[1:33]...)
	out = append(out, 0x22, 0x58, 0x20) // y: bytes(32)
	return append(out, raw[33:65]...)
}

// SetFail makes the next Assert return err (once), for testing fallbacks.
// A nil err clears a pending failure.
func (a *Authenticator) SetFail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail = err
}

// SetPresent plugs (true) or unplugs (false) the authenticator.
func (a *Authenticator) SetPresent(present bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.present = present
}

// SetTouchDelay changes the simulated touch wait; see WithTouchDelay.
func (a *Authenticator) SetTouchDelay(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.touchDelay = d
}

// Name returns fido.NameSoftware.
func (a *Authenticator) Name() string { return fido.NameSoftware }

// Present reports whether the authenticator is "plugged in".
func (a *Authenticator) Present(ctx context.Context) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.present, nil
}

// HasCredential reports whether credentialIDs contains this credential; like
// a key's silent probe it needs no touch or PIN.
func (a *Authenticator) HasCredential(ctx context.Context, rpID string, credentialIDs [][]byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.present {
		return false, fido.ErrNoDevice
	}
	r := fido.Request{AllowCredentials: credentialIDs}
	return rpID != "" && r.Allows(a.credID), nil
}

// Assert performs the ceremony in the order a CTAP2 key does: credential
// lookup, PIN, user presence, signature.
func (a *Authenticator) Assert(ctx context.Context, req fido.Request) (*fido.Assertion, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", fido.ErrCancelled, err)
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	a.mu.Lock()
	present, fail, pin, delay := a.present, a.fail, a.pin, a.touchDelay
	a.fail = nil
	credID := a.credID
	a.mu.Unlock()
	switch {
	case fail != nil:
		return nil, fail
	case !present:
		return nil, fido.ErrNoDevice
	case !req.Allows(credID):
		return nil, fido.ErrNoCredential
	}

	uv := req.RequiresUV()
	if pin != "" && req.UserVerification != "discouraged" {
		if err := checkPIN(ctx, &req, pin); err != nil {
			return nil, err
		}
		uv = true
	}

	if req.Touch != nil {
		req.Touch()
	}
	if err := waitTouch(ctx, delay); err != nil {
		return nil, err
	}
	return a.sign(&req, uv)
}

// checkPIN asks for the PIN and compares it in constant time.
func checkPIN(ctx context.Context, req *fido.Request, want string) error {
	if req.PIN == nil {
		return fido.ErrPINRequired
	}
	got, err := req.PIN(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", fido.ErrCancelled, ctx.Err())
		}
		return fmt.Errorf("soft: asking for the PIN: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return fido.ErrPINInvalid
	}
	return nil
}

// waitTouch simulates the wait for user presence.
func waitTouch(ctx context.Context, d time.Duration) error {
	if d == 0 {
		return nil
	}
	var touched <-chan time.Time // nil: never touched
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		touched = t.C
	}
	select {
	case <-touched:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", fido.ErrCancelled, ctx.Err())
	}
}

// sign builds authenticatorData = sha256(rpId) ‖ flags ‖ signCount and signs
// authenticatorData ‖ sha256(clientDataJSON) with ECDSA-SHA256 (ASN.1 DER),
// as the WebAuthn specification lays it out.
func (a *Authenticator) sign(req *fido.Request, uv bool) (*fido.Assertion, error) {
	clientData := fido.ClientData(req.Challenge, req.Origin)
	cdHash := sha256.Sum256(clientData)
	rpHash := sha256.Sum256([]byte(req.RPID))
	flags := byte(flagUP)
	if uv {
		flags |= flagUV
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	a.signCount++
	authData := make([]byte, 0, 37)
	authData = append(authData, rpHash[:]...)
	authData = append(authData, flags)
	authData = binary.BigEndian.AppendUint32(authData, a.signCount)

	digest := sha256.Sum256(append(append([]byte(nil), authData...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("soft: signing: %w", err)
	}
	return &fido.Assertion{
		CredentialID:      append([]byte(nil), a.credID...),
		AuthenticatorData: authData,
		ClientDataJSON:    clientData,
		Signature:         sig,
		UserHandle:        append([]byte(nil), a.userHandle...),
	}, nil
}
