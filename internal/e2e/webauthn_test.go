package e2e

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/platform/fido/soft"
)

// softKey makes a software security key in a file the agent loads
// (RACK_GATEWAY_AUTHENTICATOR=soft:FILE), and optionally enrolls it for
// the user on the sandbox.
func softKey(t *testing.T, e *env, sb *sandbox, email string, enroll bool) {
	t.Helper()
	k, err := soft.New()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.root, "key-"+strings.Split(email, "@")[0]+".json")
	if err := k.Save(path); err != nil {
		t.Fatal(err)
	}
	e.set("RACK_GATEWAY_AUTHENTICATOR", "soft:"+path)
	if enroll {
		sb.call(t, "POST", "/_sandbox/users/"+email+"/webauthn", map[string]any{
			"credential_id":   base64.RawURLEncoding.EncodeToString(k.CredentialID()),
			"public_key":      base64.RawURLEncoding.EncodeToString(k.PublicKeyCOSE()),
			"backup_eligible": false,
		}, nil)
	}
}

func TestWebAuthnThroughTheAgent(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	e := newEnv(t)
	e.sb = sb
	softKey(t, e, sb, admin, true)
	e.login("prod", admin)
	sb.expireStepUp(t, admin)
	p := e.startPTY("webauthn", stepUpCmd...)
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.Output())
	}
	contains(t, "screen", p.Output(), "Attempting WebAuthn verification...", "Touch your security key...", "MFA verified")
	if strings.Contains(p.Output(), "Enter TOTP code:") {
		t.Errorf("asked for a code although the key worked:\n%s", p.Output())
	}
	// An always-level action gets its own assertion in X-MFA-WebAuthn.
	q := e.startPTY("always", "api", "-X", "POST", "/api/v1/api-tokens", "-d", `{"name":"k","permissions":["convox:app:list"]}`)
	if code := q.wait(15 * time.Second); code != 0 || !strings.Contains(q.Output(), "rgw_") {
		t.Fatalf("always with WebAuthn: exit %d\n%s", code, q.Output())
	}
}

func TestFailingAuthenticatorFallsBackToTOTP(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	e := newEnv(t)
	e.sb = sb
	softKey(t, e, sb, admin, true)  // enrolled…
	softKey(t, e, sb, admin, false) // …but the agent holds a different key
	e.login("prod", admin)
	sb.expireStepUp(t, admin)
	p := e.startPTY("fallback", stepUpCmd...)
	p.waitText("falling back to a code", 15*time.Second)
	p.waitText("Enter TOTP code:", 5*time.Second)
	p.typeSecret(totpCodes.next(t, sb, admin))
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.Output())
	}
	contains(t, "screen", p.Output(), "Attempting WebAuthn verification...", "MFA verified")
}
