package fidotest

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// relyingParty plays the gateway's side of the WebAuthn assertion (docs/gateway-protocol.md) with go-webauthn, which is
// what the real server uses.
type relyingParty struct {
	w    *webauthn.WebAuthn
	user *user
}

// user is the gateway account; its ID is the decimal user id, as on the
// server, unless the credential carries a user handle.
type user struct {
	id    []byte
	creds []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.id }
func (u *user) WebAuthnName() string                       { return "developer@company.test" }
func (u *user) WebAuthnDisplayName() string                { return "Developer" }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func newRelyingParty(t *testing.T, c Credential) *relyingParty {
	t.Helper()
	u := &user{id: []byte("42")}
	if len(c.UserHandle) > 0 {
		u.id = c.UserHandle
	}
	u.creds = []webauthn.Credential{
		decoyCredential(t),
		{
			ID:        c.ID,
			PublicKey: c.PublicKeyCOSE,
			Flags:     webauthn.CredentialFlags{UserPresent: true, BackupEligible: c.BackupEligible},
		},
	}
	rp := &relyingParty{user: u}
	return rp.with(t, RPID, Origin)
}

// with returns a relying party for the same user under another configuration.
func (rp *relyingParty) with(t *testing.T, rpID, origin string) *relyingParty {
	t.Helper()
	w, err := webauthn.New(&webauthn.Config{RPID: rpID, RPDisplayName: "Rack Gateway", RPOrigins: []string{origin}})
	if err != nil {
		t.Fatalf("webauthn.New: %v", err)
	}
	return &relyingParty{w: w, user: rp.user}
}

// started is what a client reads from the assertion/start answer.
type started struct {
	rpID, challenge, userVerification string
	allow                             [][]byte
	sessionData                       string
}

// begin runs assertion/start: it renders the answer as the server's JSON and
// parses it back the way a client must, so wire-format slips show up here.
func (rp *relyingParty) begin(t *testing.T, opts ...webauthn.LoginOption) started {
	t.Helper()
	assertion, session, err := rp.w.BeginLogin(rp.user, opts...)
	if err != nil {
		t.Fatalf("BeginLogin: %v", err)
	}
	sd, err := json.Marshal(session)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{"options": assertion, "session_data": string(sd)})
	if err != nil {
		t.Fatal(err)
	}

	var wire struct {
		Options struct {
			PublicKey struct {
				Challenge        string `json:"challenge"`
				RPID             string `json:"rpId"`
				UserVerification string `json:"userVerification"`
				AllowCredentials []struct {
					Type string `json:"type"`
					ID   string `json:"id"`
				} `json:"allowCredentials"`
			} `json:"publicKey"`
		} `json:"options"`
		SessionData string `json:"session_data"`
	}
	if err := json.Unmarshal(body, &wire); err != nil {
		t.Fatalf("parsing start answer: %v", err)
	}
	pk := wire.Options.PublicKey
	st := started{rpID: pk.RPID, challenge: pk.Challenge, userVerification: pk.UserVerification, sessionData: wire.SessionData}
	for _, c := range pk.AllowCredentials {
		id, err := base64.RawURLEncoding.DecodeString(c.ID)
		if err != nil {
			t.Fatalf("allowCredentials id %q is not unpadded base64url: %v", c.ID, err)
		}
		st.allow = append(st.allow, id)
	}
	if st.rpID != rp.w.Config.RPID || st.challenge == "" || len(st.allow) != len(rp.user.creds) {
		t.Fatalf("unexpected start answer: %s", body)
	}
	return st
}

// verify runs assertion/verify on the two strings a client sends.
func (rp *relyingParty) verify(sessionData, assertionResponse string) error {
	var session webauthn.SessionData
	if err := json.Unmarshal([]byte(sessionData), &session); err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(assertionResponse))
	if err != nil {
		return err
	}
	_, err = rp.w.ValidateLogin(rp.user, session, parsed)
	return err
}

// withRPID rewrites the rpId recorded in session data.
func withRPID(t *testing.T, sessionData, rpID string) string {
	t.Helper()
	var session webauthn.SessionData
	if err := json.Unmarshal([]byte(sessionData), &session); err != nil {
		t.Fatal(err)
	}
	session.RelyingPartyID = rpID
	out, err := json.Marshal(session)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
