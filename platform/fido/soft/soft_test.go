package soft_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/rack-gateway/rack-gateway/platform/fido"
	"github.com/rack-gateway/rack-gateway/platform/fido/fidotest"
	"github.com/rack-gateway/rack-gateway/platform/fido/soft"
)

func newSoft(t *testing.T, opts ...soft.Option) *soft.Authenticator {
	t.Helper()
	a, err := soft.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func subject(a *soft.Authenticator) fidotest.Subject {
	return fidotest.Subject{
		Auth: a,
		Enroll: func(*testing.T, string) fidotest.Credential {
			return fidotest.Credential{ID: a.CredentialID(), PublicKeyCOSE: a.PublicKeyCOSE(), UserHandle: a.UserHandle()}
		},
		Stall: func(t *testing.T) {
			a.SetTouchDelay(-1)
			t.Cleanup(func() { a.SetTouchDelay(0) })
		},
	}
}

func TestConformance(t *testing.T) {
	fidotest.Run(t, subject(newSoft(t)))
}

func TestConformanceWithPINAndUserHandle(t *testing.T) {
	a := newSoft(t, soft.WithPIN("123456"), soft.WithUserHandle([]byte("42")))
	s := subject(a)
	s.PIN = func(context.Context) (string, error) { return "123456", nil }
	fidotest.Run(t, s)
}

func TestConformanceAfterSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "soft.json")
	if err := newSoft(t).Save(path); err != nil {
		t.Fatal(err)
	}
	a, err := soft.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	fidotest.Run(t, subject(a))
}

func request(a *soft.Authenticator) fido.Request {
	return fido.Request{
		RPID: "localhost", Challenge: "Y2hhbGxlbmdlLWNoYWxsZW5nZQ", Origin: "http://localhost:8080",
		AllowCredentials: [][]byte{[]byte("other"), a.CredentialID()},
	}
}

func TestAuthenticatorDataLayoutAndCounter(t *testing.T) {
	a := newSoft(t)
	for want := uint32(1); want <= 2; want++ {
		as, err := a.Assert(context.Background(), request(a))
		if err != nil {
			t.Fatal(err)
		}
		ad := as.AuthenticatorData
		rp := sha256.Sum256([]byte("localhost"))
		if len(ad) != 37 || !bytes.Equal(ad[:32], rp[:]) || ad[32] != 0x01 || binary.BigEndian.Uint32(ad[33:]) != want {
			t.Fatalf("authData %x; want rpIdHash, flags 01, count %d", ad, want)
		}
	}
	if a.SignCount() != 2 {
		t.Errorf("SignCount = %d", a.SignCount())
	}
}

func TestSetFailOnce(t *testing.T) {
	a := newSoft(t)
	boom := errors.New("boom")
	a.SetFail(boom)
	if _, err := a.Assert(context.Background(), request(a)); !errors.Is(err, boom) {
		t.Fatalf("err = %v; want boom", err)
	}
	if _, err := a.Assert(context.Background(), request(a)); err != nil {
		t.Fatalf("second Assert: %v", err)
	}
}

func TestUnplugged(t *testing.T) {
	a := newSoft(t, soft.Unplugged())
	ctx := context.Background()
	if ok, err := a.Present(ctx); ok || err != nil {
		t.Fatalf("Present = %v, %v", ok, err)
	}
	if _, err := a.Assert(ctx, request(a)); !errors.Is(err, fido.ErrNoDevice) {
		t.Fatalf("err = %v; want ErrNoDevice", err)
	}
	a.SetPresent(true)
	if _, err := a.Assert(ctx, request(a)); err != nil {
		t.Fatal(err)
	}
}

func TestPIN(t *testing.T) {
	a := newSoft(t, soft.WithPIN("1234"))
	ctx := context.Background()
	req := request(a)
	if _, err := a.Assert(ctx, req); !errors.Is(err, fido.ErrPINRequired) {
		t.Errorf("no PIN func: err = %v; want ErrPINRequired", err)
	}
	touched := false
	req.Touch = func() { touched = true }
	req.PIN = func(context.Context) (string, error) { return "0000", nil }
	if _, err := a.Assert(ctx, req); !errors.Is(err, fido.ErrPINInvalid) {
		t.Errorf("wrong PIN: err = %v; want ErrPINInvalid", err)
	}
	if touched {
		t.Error("Touch called although the PIN was wrong")
	}
	req.PIN = func(context.Context) (string, error) { return "1234", nil }
	as, err := a.Assert(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if as.AuthenticatorData[32] != 0x05 {
		t.Errorf("flags = %#x; want UP|UV after a PIN", as.AuthenticatorData[32])
	}
	asked := false
	req.PIN = func(context.Context) (string, error) { asked = true; return "", nil }
	req.UserVerification = "discouraged"
	if _, err := a.Assert(ctx, req); err != nil || asked {
		t.Errorf("discouraged UV: err = %v, PIN asked = %v; want no PIN", err, asked)
	}
}

func TestTouchDelay(t *testing.T) {
	a := newSoft(t, soft.WithTouchDelay(30*time.Millisecond))
	began := time.Now()
	if _, err := a.Assert(context.Background(), request(a)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < 30*time.Millisecond {
		t.Errorf("returned after %v; want the touch delay", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	a.SetTouchDelay(-1)
	if _, err := a.Assert(ctx, request(a)); !errors.Is(err, fido.ErrCancelled) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v; want ErrCancelled wrapping DeadlineExceeded", err)
	}
}

func TestPublicKeyCOSE(t *testing.T) {
	a := newSoft(t)
	k, err := webauthncose.ParsePublicKey(a.PublicKeyCOSE())
	if err != nil {
		t.Fatal(err)
	}
	ec, ok := k.(webauthncose.EC2PublicKeyData)
	if !ok || ec.Algorithm != int64(webauthncose.AlgES256) || ec.Curve != int64(webauthncose.P256) || len(ec.XCoord) != 32 || len(ec.YCoord) != 32 {
		t.Fatalf("COSE key = %#v", k)
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "soft.json")
	a := newSoft(t, soft.WithUserHandle([]byte("u1")))
	if _, err := a.Assert(context.Background(), request(a)); err != nil {
		t.Fatal(err)
	}
	if err := a.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v; want 0600", fi.Mode().Perm())
	}
	b, err := soft.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.CredentialID(), b.CredentialID()) || !bytes.Equal(a.PublicKeyCOSE(), b.PublicKeyCOSE()) ||
		!bytes.Equal(b.UserHandle(), []byte("u1")) || b.SignCount() != 1 {
		t.Error("loaded authenticator differs from the saved one")
	}

	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := soft.Load(path); err == nil {
			t.Error("Load accepted a world-readable key file")
		}
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"version":2}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := soft.Load(bad); err == nil {
		t.Error("Load accepted an unknown version")
	}
}

func TestNoCredentialBeforeTouch(t *testing.T) {
	a := newSoft(t)
	req := request(a)
	req.AllowCredentials = [][]byte{[]byte("nope")}
	req.Touch = func() { t.Error("Touch called for an unknown credential") }
	if _, err := a.Assert(context.Background(), req); !errors.Is(err, fido.ErrNoCredential) {
		t.Fatalf("err = %v; want ErrNoCredential", err)
	}
}
