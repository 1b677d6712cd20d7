package fido_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/platform/fido"
	"github.com/rack-gateway/rack-gateway/platform/fido/fidotest"
)

func TestClientData(t *testing.T) {
	got := string(fido.ClientData("ab-_Q", "https://gw.example.com:8443/"))
	want := `{"type":"webauthn.get","challenge":"ab-_Q","origin":"https://gw.example.com:8443","crossOrigin":false}`
	if got != want {
		t.Errorf("ClientData = %s\nwant %s", got, want)
	}
	// The challenge is copied, never re-encoded or HTML-escaped.
	if got := string(fido.ClientData("a&b<", "http://localhost:8080")); !strings.Contains(got, `"challenge":"a&b<"`) {
		t.Errorf("ClientData escaped the challenge: %s", got)
	}
}

func sample() *fido.Assertion {
	return &fido.Assertion{
		CredentialID:      []byte{0xfb, 0xff, 0x01},
		AuthenticatorData: bytes.Repeat([]byte{0xfe}, 37),
		ClientDataJSON:    []byte(`{"type":"webauthn.get"}`),
		Signature:         []byte{0x30, 0x44, 0xff},
	}
}

func TestResponseExact(t *testing.T) {
	a := sample()
	got := a.Response()
	want := `{"id":"-_8B","rawId":"-_8B","type":"public-key","response":{` +
		`"authenticatorData":"_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_g",` +
		`"clientDataJSON":"eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0","signature":"MET_","userHandle":""}}`
	if got != want {
		t.Errorf("Response =\n%s\nwant\n%s", got, want)
	}
	fidotest.CheckResponseShape(t, got, a)
	a.UserHandle = []byte("42")
	if !strings.Contains(a.Response(), `"userHandle":"NDI"`) {
		t.Errorf("userHandle not rendered: %s", a.Response())
	}
}

func TestAssertionRedacted(t *testing.T) {
	a := sample()
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "assertion", a)
	out := fmt.Sprintf("%v|%+v|%#v|%s|%v", a, a, a, a, []*fido.Assertion{a}) + logged.String()
	for _, secret := range []string{"-_8B", "MET_", "webauthn.get", "fe fe", "[251 255 1]"} {
		if strings.Contains(out, secret) {
			t.Errorf("formatted assertion leaks %q: %s", secret, out)
		}
	}
	a.Wipe()
	if !bytes.Equal(a.Signature, []byte{0, 0, 0}) || !bytes.Equal(a.CredentialID, []byte{0, 0, 0}) {
		t.Error("Wipe left data behind")
	}
}

func TestUnavailable(t *testing.T) {
	u := fido.Unavailable()
	ctx := context.Background()
	if u.Name() != fido.NameUnavailable {
		t.Errorf("Name = %q", u.Name())
	}
	if ok, err := u.Present(ctx); ok || err != nil {
		t.Errorf("Present = %v, %v", ok, err)
	}
	if _, err := u.Assert(ctx, fido.Request{}); !errors.Is(err, fido.ErrNoDevice) {
		t.Errorf("Assert err = %v; want ErrNoDevice", err)
	}
}

func TestRequestValidate(t *testing.T) {
	ok := fido.Request{RPID: "r", Challenge: "c", Origin: "https://r", AllowCredentials: [][]byte{{1}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	noCreds := ok
	noCreds.AllowCredentials = nil
	if err := noCreds.Validate(); !errors.Is(err, fido.ErrNoCredential) {
		t.Errorf("empty allow list: %v; want ErrNoCredential", err)
	}
	for _, mut := range []func(*fido.Request){
		func(r *fido.Request) { r.RPID = "" },
		func(r *fido.Request) { r.Challenge = "" },
		func(r *fido.Request) { r.Origin = "" },
	} {
		r := ok
		mut(&r)
		if r.Validate() == nil {
			t.Errorf("incomplete request accepted: %+v", r)
		}
	}
}
