package soft_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/rack-gateway/rack-gateway/platform/fido"
	"github.com/rack-gateway/rack-gateway/platform/fido/soft"
)

const (
	regRPID   = "gateway.rack-gateway.test"
	regOrigin = "https://gateway.rack-gateway.test"
)

type regUser struct{ creds []webauthn.Credential }

func (regUser) WebAuthnID() []byte                           { return []byte("7") }
func (regUser) WebAuthnName() string                         { return "dev@company.test" }
func (regUser) WebAuthnDisplayName() string                  { return "Dev" }
func (u regUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// register plays the gateway's registration with go-webauthn, as the real
// server does, and returns what it stored.
func register(t *testing.T, a *soft.Authenticator, u regUser, pin func(context.Context) (string, error)) (*webauthn.Credential, error) {
	t.Helper()
	w, err := webauthn.New(&webauthn.Config{RPID: regRPID, RPDisplayName: "Rack Gateway", RPOrigins: []string{regOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	var excl []protocol.CredentialDescriptor
	for _, c := range u.creds {
		excl = append(excl, c.Descriptor())
	}
	opts, session, err := w.BeginRegistration(u,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired}),
		webauthn.WithExclusions(excl))
	if err != nil {
		t.Fatal(err)
	}
	pk := opts.Response
	req := fido.CreationRequest{
		RPID: pk.RelyingParty.ID, RPName: pk.RelyingParty.Name,
		Challenge: base64.RawURLEncoding.EncodeToString(pk.Challenge), Origin: regOrigin,
		UserID: u.WebAuthnID(), UserName: pk.User.Name, UserDisplayName: pk.User.DisplayName,
		UserVerification: string(pk.AuthenticatorSelection.UserVerification), PIN: pin,
	}
	for _, p := range pk.Parameters {
		req.Algorithms = append(req.Algorithms, int(p.Algorithm))
	}
	for _, c := range pk.CredentialExcludeList {
		req.ExcludeCredentials = append(req.ExcludeCredentials, c.CredentialID)
	}
	cred, err := a.MakeCredential(context.Background(), req)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(cred.Response())
	if err != nil {
		t.Fatalf("the server cannot parse the credential: %v", err)
	}
	stored, err := w.CreateCredential(u, *session, parsed)
	if err != nil {
		t.Fatalf("the server refuses the credential: %v", err)
	}
	return stored, nil
}

func TestMakeCredentialRegistersTheKey(t *testing.T) {
	a := newSoft(t)
	stored, err := register(t, a, regUser{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored.ID, a.CredentialID()) || !bytes.Equal(stored.PublicKey, a.PublicKeyCOSE()) {
		t.Fatal("the server stored another credential than the key holds")
	}
	if !stored.Flags.UserVerified || !stored.Flags.UserPresent {
		t.Fatalf("flags %+v: the server asked for user verification", stored.Flags)
	}
	// Enrolled once, the key is in the exclude list the next time.
	_, err = register(t, a, regUser{creds: []webauthn.Credential{*stored}}, nil)
	if !errors.Is(err, fido.ErrCredentialExcluded) {
		t.Fatalf("second registration: %v, want ErrCredentialExcluded", err)
	}
}

func TestMakeCredentialAsksForThePIN(t *testing.T) {
	a := newSoft(t, soft.WithPIN("4321"))
	if _, err := register(t, a, regUser{}, nil); !errors.Is(err, fido.ErrPINRequired) {
		t.Fatalf("no PIN hook: %v", err)
	}
	wrong := func(context.Context) (string, error) { return "0000", nil }
	if _, err := register(t, a, regUser{}, wrong); !errors.Is(err, fido.ErrPINInvalid) {
		t.Fatalf("wrong PIN: %v", err)
	}
	right := func(context.Context) (string, error) { return "4321", nil }
	if _, err := register(t, a, regUser{}, right); err != nil {
		t.Fatal(err)
	}
}

func TestMakeCredentialUnplugged(t *testing.T) {
	a := newSoft(t, soft.Unplugged())
	if _, err := register(t, a, regUser{}, nil); !errors.Is(err, fido.ErrNoDevice) {
		t.Fatalf("unplugged: %v", err)
	}
	if _, err := fido.Unavailable().MakeCredential(context.Background(), fido.CreationRequest{}); !errors.Is(err, fido.ErrNoDevice) {
		t.Fatalf("unavailable: %v", err)
	}
}
