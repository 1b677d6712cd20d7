//go:build cgo && !nofido

package fido_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	libfido2 "github.com/keys-pub/go-libfido2"

	"github.com/rack-gateway/rack-gateway/platform/fido"
	"github.com/rack-gateway/rack-gateway/platform/fido/fidotest"
)

// Environment for the hardware run. It is opt-in even with a key plugged in:
// every ceremony waits for a touch, and an unattended `go test ./...` must not
// hang on a developer's YubiKey.
const (
	envRun = "RACK_GATEWAY_FIDO_HW" // "1" runs the suite against the key
	envPIN = "RACK_GATEWAY_FIDO_PIN"
)

func TestConformanceLibfido2(t *testing.T) {
	a := fido.Default()
	present, err := a.Present(context.Background())
	if err != nil {
		t.Fatalf("Present: %v", err)
	}
	if !present {
		t.Skip("no FIDO2 security key connected (libfido2 found none)")
	}
	if os.Getenv(envRun) != "1" {
		t.Skipf("a security key is connected; set %s=1 (and %s if it has a PIN) to run the interactive suite", envRun, envPIN)
	}
	pin := os.Getenv(envPIN)
	fidotest.Run(t, fidotest.Subject{
		Auth:        a,
		Enroll:      func(t *testing.T, rpID string) fidotest.Credential { return enroll(t, rpID, pin) },
		PIN:         pinFunc(pin),
		Interactive: true,
		NoUV:        pin == "",
	})
}

func pinFunc(pin string) func(context.Context) (string, error) {
	if pin == "" {
		return nil
	}
	return func(context.Context) (string, error) { return pin, nil }
}

// enroll makes a non-resident ES256 credential, so nothing is left on the
// key, and reads its COSE public key out of the attested credential data.
func enroll(t *testing.T, rpID, pin string) fidotest.Credential {
	t.Helper()
	locs, err := libfido2.DeviceLocations()
	if err != nil || len(locs) == 0 {
		t.Fatalf("DeviceLocations: %v (%d found)", err, len(locs))
	}
	dev, err := libfido2.NewDevice(locs[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	userID := []byte("42")
	cdh := sha256.Sum256([]byte("fidotest enrolment"))
	fmt.Fprintln(os.Stderr, "fidotest: touch the security key to create a test credential")
	att, err := dev.MakeCredential(cdh[:], libfido2.RelyingParty{ID: rpID, Name: "rack-gateway test"},
		libfido2.User{ID: userID, Name: "fidotest"}, libfido2.ES256, pin, nil)
	if err != nil {
		if errors.Is(err, libfido2.ErrPinRequired) {
			t.Fatalf("the key needs its PIN: set %s", envPIN)
		}
		t.Fatalf("MakeCredential: %v", err)
	}
	raw, err := fido.UnwrapAuthData(att.AuthData, rpID)
	if err != nil {
		t.Fatalf("attestation authData: %v", err)
	}
	var ad protocol.AuthenticatorData
	if err := ad.Unmarshal(raw); err != nil {
		t.Fatalf("parsing attestation authData: %v", err)
	}
	return fidotest.Credential{
		ID:             att.CredentialID,
		PublicKeyCOSE:  ad.AttData.CredentialPublicKey,
		UserHandle:     userID,
		BackupEligible: ad.Flags.HasBackupEligible(),
	}
}
