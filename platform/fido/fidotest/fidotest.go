// Package fidotest is the conformance suite every fido.Authenticator runs.
//
// Assertions are checked the way the gateway checks them: a
// github.com/go-webauthn/webauthn relying party begins the login, its
// options and session data travel as the JSON of docs/gateway-protocol.md, "WebAuthn assertions", and
// ValidateLogin verifies Assertion.Response(). One assertion is then also
// checked against a wrong challenge, origin and RP ID, so a hardware run
// needs only a few touches.
package fidotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/rack-gateway/rack-gateway/platform/fido"
	"github.com/rack-gateway/rack-gateway/platform/fido/soft"
)

// The relying party the suite plays. Enroll must create credentials for RPID.
const (
	RPID   = "gateway.rack-gateway.test"
	Origin = "https://gateway.rack-gateway.test"
)

// cancelBudget is how long Assert may take to return once its context ends.
const cancelBudget = 2 * time.Second

// Credential is what the relying party stored when the credential was
// enrolled.
type Credential struct {
	ID            []byte
	PublicKeyCOSE []byte
	// UserHandle, if set, is the user ID the credential was created for;
	// a key may return it and the server then requires it to match.
	UserHandle []byte
	// BackupEligible is the BE flag seen at enrolment; the server rejects
	// assertions whose BE flag differs.
	BackupEligible bool
}

// Subject is the authenticator under test and what the suite needs to drive
// it.
type Subject struct {
	Auth fido.Authenticator
	// Enroll returns a credential Auth holds for rpID, creating one if
	// needed. Required.
	Enroll func(t *testing.T, rpID string) Credential
	// PIN answers PIN prompts; nil for an authenticator without a PIN.
	PIN func(ctx context.Context) (string, error)
	// Stall, if set, makes Auth's next ceremony wait for a touch that never
	// comes, so that cancellation is tested unattended. Without it the
	// cancellation test needs Interactive and a human who does not touch.
	Stall func(t *testing.T)
	// Interactive means ceremonies need a human; the suite prints what to
	// do on stderr.
	Interactive bool
	// NoUV skips the userVerification=required case, for keys with neither
	// a PIN nor built-in user verification.
	NoUV bool
}

// Run runs the suite as subtests of t.
func Run(t *testing.T, s Subject) {
	if s.Auth == nil || s.Enroll == nil {
		t.Fatal("fidotest: Subject needs Auth and Enroll")
	}
	ctx := context.Background()
	if ok, err := s.Auth.Present(ctx); err != nil || !ok {
		t.Fatalf("%s: Present = %v, %v; want true, nil", s.Auth.Name(), ok, err)
	}
	cred := s.Enroll(t, RPID)
	rp := newRelyingParty(t, cred)

	t.Run("Assertion", func(t *testing.T) { testAssertion(t, s, rp, cred) })
	if !s.NoUV {
		t.Run("UserVerificationRequired", func(t *testing.T) { testUV(t, s, rp) })
	}
	t.Run("UnknownCredential", func(t *testing.T) { testUnknownCredential(t, s) })
	t.Run("WrongRPIDAtAuthenticator", func(t *testing.T) { testWrongRPID(t, s, rp) })
	t.Run("CancelledBeforeStart", func(t *testing.T) { testPreCancelled(t, s, cred) })
	t.Run("CancelWhileWaitingForTouch", func(t *testing.T) { testCancelWaiting(t, s, cred) })
	if p, ok := s.Auth.(fido.Prober); ok {
		t.Run("Prober", func(t *testing.T) { testProber(t, p, cred) })
	}
}

func testAssertion(t *testing.T, s Subject, rp *relyingParty, cred Credential) {
	start := rp.begin(t)
	var touches atomic.Int32
	a, err := s.Auth.Assert(context.Background(), s.request(start, func() { touches.Add(1) }))
	if err != nil {
		t.Fatalf("Assert: %v", err)
	}
	if n := touches.Load(); n != 1 {
		t.Errorf("Touch called %d times; want 1", n)
	}
	if !bytes.Equal(a.CredentialID, cred.ID) {
		t.Error("assertion names a credential other than the enrolled one")
	}
	if got, want := a.ClientDataJSON, fido.ClientData(start.challenge, Origin); !bytes.Equal(got, want) {
		t.Errorf("clientDataJSON = %s; want %s", got, want)
	}
	checkAuthData(t, a.AuthenticatorData, RPID)
	resp := a.Response()
	CheckResponseShape(t, resp, a)

	if err := rp.verify(start.sessionData, resp); err != nil {
		t.Fatalf("relying party rejected a valid assertion: %v", err)
	}

	// The same assertion must fail every check the server makes.
	other := rp.begin(t)
	if err := rp.verify(other.sessionData, resp); err == nil {
		t.Error("assertion accepted for another ceremony's challenge")
	}
	evilOrigin := rp.with(t, RPID, "https://evil.rack-gateway.test")
	if err := evilOrigin.verify(start.sessionData, resp); err == nil {
		t.Error("assertion accepted by a relying party with another origin")
	}
	otherRP := rp.with(t, "other.rack-gateway.test", "https://other.rack-gateway.test")
	if err := otherRP.verify(withRPID(t, start.sessionData, "other.rack-gateway.test"), resp); err == nil {
		t.Error("assertion accepted by a relying party with another rpId")
	}
	tampered := *a
	tampered.Signature = bytes.Clone(a.Signature)
	tampered.Signature[len(tampered.Signature)/2] ^= 0x01
	if err := rp.verify(start.sessionData, tampered.Response()); err == nil {
		t.Error("assertion with a corrupted signature accepted")
	}
	if got := fmt.Sprintf("%v %+v %#v %s", a, a, a, a); bytes.Contains([]byte(got), []byte(base64.RawURLEncoding.EncodeToString(a.Signature))) {
		t.Error("formatting an Assertion reveals its signature")
	}
}

func testUV(t *testing.T, s Subject, rp *relyingParty) {
	start := rp.begin(t, webauthn.WithUserVerification(protocol.VerificationRequired))
	if start.userVerification != "required" {
		t.Fatalf("start options carry userVerification %q; want required", start.userVerification)
	}
	a, err := s.Auth.Assert(context.Background(), s.request(start, nil))
	if err != nil {
		t.Fatalf("Assert: %v", err)
	}
	if flags := a.AuthenticatorData[32]; flags&0x04 == 0 {
		t.Errorf("UV flag not set (flags %#02x)", flags)
	}
	if err := rp.verify(start.sessionData, a.Response()); err != nil {
		t.Fatalf("relying party rejected a UV assertion: %v", err)
	}
}

func testUnknownCredential(t *testing.T, s Subject) {
	id := make([]byte, 48)
	_, _ = rand.Read(id)
	s.say("UnknownCredential: touch the key only if it blinks")
	_, err := s.Auth.Assert(context.Background(), fido.Request{
		RPID: RPID, Challenge: randomChallenge(), Origin: Origin,
		AllowCredentials: [][]byte{id}, PIN: s.PIN,
	})
	if !errors.Is(err, fido.ErrNoCredential) {
		t.Fatalf("Assert with an unknown credential: err = %v; want ErrNoCredential", err)
	}
}

// testWrongRPID asks for the enrolled credential under another RP ID. A
// hardware key scopes credentials to their RP and finds none; a software
// one signs, and the server must then reject the rpIdHash.
func testWrongRPID(t *testing.T, s Subject, rp *relyingParty) {
	start := rp.begin(t)
	req := s.request(start, s.touchPrompt("WrongRPIDAtAuthenticator"))
	req.RPID = "evil.rack-gateway.test"
	a, err := s.Auth.Assert(context.Background(), req)
	if err != nil {
		if !errors.Is(err, fido.ErrNoCredential) {
			t.Fatalf("Assert for another rpId: err = %v; want success or ErrNoCredential", err)
		}
		return
	}
	if err := rp.verify(start.sessionData, a.Response()); err == nil {
		t.Fatal("assertion made for another rpId was accepted")
	}
}

func testPreCancelled(t *testing.T, s Subject, cred Credential) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	touched := false
	began := time.Now()
	_, err := s.Auth.Assert(ctx, fido.Request{
		RPID: RPID, Challenge: randomChallenge(), Origin: Origin,
		AllowCredentials: [][]byte{cred.ID}, PIN: s.PIN, Touch: func() { touched = true },
	})
	if !errors.Is(err, fido.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v; want ErrCancelled wrapping context.Canceled", err)
	}
	if touched {
		t.Error("Touch called for a cancelled ceremony")
	}
	if d := time.Since(began); d > cancelBudget {
		t.Errorf("returned after %v", d)
	}
}

func testCancelWaiting(t *testing.T, s Subject, cred Credential) {
	switch {
	case s.Stall != nil:
		s.Stall(t)
	case s.Interactive:
		s.say("CancelWhileWaitingForTouch: do NOT touch the key")
	default:
		t.Skip("needs Subject.Stall or an interactive run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelledAt atomic.Int64
	done := make(chan error, 1)
	go func() {
		_, err := s.Auth.Assert(ctx, fido.Request{
			RPID: RPID, Challenge: randomChallenge(), Origin: Origin,
			AllowCredentials: [][]byte{cred.ID}, PIN: s.PIN,
			Touch: func() {
				// The device is now waiting: cancel as a user's Ctrl-C would.
				cancelledAt.Store(time.Now().UnixNano())
				cancel()
			},
		})
		done <- err
	}()
	select {
	case err := <-done:
		if cancelledAt.Load() == 0 {
			t.Fatalf("Assert returned (%v) without calling Touch", err)
		}
		if d := time.Since(time.Unix(0, cancelledAt.Load())); d > cancelBudget {
			t.Errorf("Assert returned %v after cancellation; want under %v", d, cancelBudget)
		}
		if !errors.Is(err, fido.ErrCancelled) {
			t.Errorf("err = %v; want ErrCancelled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Assert neither called Touch nor returned within 30s")
	}
}

func testProber(t *testing.T, p fido.Prober, cred Credential) {
	ctx := context.Background()
	unknown := make([]byte, 48)
	_, _ = rand.Read(unknown)
	ok, err := p.HasCredential(ctx, RPID, [][]byte{unknown, cred.ID})
	if err != nil {
		t.Skipf("key does not support silent probing: %v", err)
	}
	if !ok {
		t.Error("HasCredential = false for the enrolled credential")
	}
	if ok, err := p.HasCredential(ctx, RPID, [][]byte{unknown}); ok || err != nil {
		t.Errorf("HasCredential(unknown) = %v, %v; want false, nil", ok, err)
	}
}

var b64url = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)

// CheckResponseShape checks resp against the PublicKeyCredential JSON of
// docs/gateway-protocol.md, "WebAuthn assertions": exactly the listed members, type "public-key", id
// equal to rawId, every value base64url without padding and decoding to a's
// bytes.
func CheckResponseShape(t testing.TB, resp string, a *fido.Assertion) {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(resp), &top); err != nil {
		t.Fatalf("Response is not a JSON object: %v", err)
	}
	if got, want := sortedKeys(top), []string{"id", "rawId", "response", "type"}; !slices.Equal(got, want) {
		t.Errorf("Response members = %v; want %v", got, want)
	}
	var typ string
	_ = json.Unmarshal(top["type"], &typ)
	if typ != "public-key" {
		t.Errorf(`type = %q; want "public-key"`, typ)
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(top["response"], &inner); err != nil {
		t.Fatalf("response member is not an object: %v", err)
	}
	want := []string{"authenticatorData", "clientDataJSON", "signature", "userHandle"}
	if got := sortedKeys(inner); !slices.Equal(got, want) {
		t.Errorf("response members = %v; want %v", got, want)
	}
	fields := map[string]struct {
		raw  json.RawMessage
		want []byte
	}{
		"id": {top["id"], a.CredentialID}, "rawId": {top["rawId"], a.CredentialID},
		"authenticatorData": {inner["authenticatorData"], a.AuthenticatorData},
		"clientDataJSON":    {inner["clientDataJSON"], a.ClientDataJSON},
		"signature":         {inner["signature"], a.Signature},
		"userHandle":        {inner["userHandle"], a.UserHandle},
	}
	for name, f := range fields {
		var s string
		if err := json.Unmarshal(f.raw, &s); err != nil {
			t.Errorf("%s is not a string", name)
			continue
		}
		if !b64url.MatchString(s) {
			t.Errorf("%s is not unpadded base64url", name)
			continue
		}
		got, _ := base64.RawURLEncoding.DecodeString(s)
		if !bytes.Equal(got, f.want) {
			t.Errorf("%s does not decode to the assertion's bytes", name)
		}
	}
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkAuthData checks the raw (not CBOR-wrapped) authenticator data layout.
func checkAuthData(t *testing.T, ad []byte, rpID string) {
	t.Helper()
	if len(ad) < 37 {
		t.Fatalf("authenticatorData is %d bytes; want at least 37", len(ad))
	}
	if h := sha256.Sum256([]byte(rpID)); !bytes.Equal(ad[:32], h[:]) {
		t.Error("authenticatorData does not start with sha256(rpId); CBOR-wrapped?")
	}
	if ad[32]&0x01 == 0 {
		t.Error("UP flag not set")
	}
}

// request turns a start answer into a fido.Request, as the agent would.
func (s Subject) request(st started, touch func()) fido.Request {
	if touch == nil {
		touch = s.touchPrompt("")
	}
	return fido.Request{
		RPID: st.rpID, Challenge: st.challenge, Origin: Origin,
		AllowCredentials: st.allow, UserVerification: st.userVerification,
		PIN: s.PIN, Touch: touch,
	}
}

func (s Subject) touchPrompt(what string) func() {
	return func() { s.say(what + ": touch the security key") }
}

func (s Subject) say(msg string) {
	if s.Interactive {
		fmt.Fprintln(os.Stderr, "fidotest:", msg)
	}
}

func randomChallenge() string {
	c := make([]byte, 32)
	_, _ = rand.Read(c)
	return base64.RawURLEncoding.EncodeToString(c)
}

// decoyCredential is a second credential of the same user that lives on no
// authenticator under test, like a phone passkey: the server lists it too.
func decoyCredential(t *testing.T) webauthn.Credential {
	t.Helper()
	d, err := soft.New()
	if err != nil {
		t.Fatal(err)
	}
	return webauthn.Credential{ID: d.CredentialID(), PublicKey: d.PublicKeyCOSE(), Flags: webauthn.CredentialFlags{UserPresent: true}}
}
