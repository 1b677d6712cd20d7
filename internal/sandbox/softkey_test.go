package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"
)

// softKey is a software FIDO2 authenticator: one ES256 credential that
// produces assertions the way a security key does (no attestation needed,
// since the sandbox enrolls public keys directly).
type softKey struct {
	priv   *ecdsa.PrivateKey
	credID []byte
	count  uint32
	// flags is the authenticator-data flags byte; UP (0x01) by default.
	flags byte
}

func newSoftKey(t *testing.T) *softKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &softKey{priv: priv, credID: id, flags: 0x01}
}

// coseKey is the credential public key as a COSE_Key map, hand-encoded in
// CBOR: {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}.
func (k *softKey) coseKey() []byte {
	// Bytes is the uncompressed point: 0x04, then x and y, 32 bytes each.
	point, err := k.priv.PublicKey.Bytes()
	if err != nil || len(point) != 65 {
		panic("softkey: cannot encode the public key")
	}
	x, y := point[1:33], point[33:]
	out := []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20}
	out = append(out, x...)
	out = append(out, 0x22, 0x58, 0x20)
	return append(out, y...)
}

// assert signs a webauthn.get ceremony and returns the PublicKeyCredential
// JSON the gateway protocol calls assertion_response.
func (k *softKey) assert(t *testing.T, rpID, challenge, origin string) string {
	t.Helper()
	k.count++
	rpHash := sha256.Sum256([]byte(rpID))
	authData := append(append(rpHash[:], k.flags), binary.BigEndian.AppendUint32(nil, k.count)...)
	clientData, err := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": challenge, "origin": origin, "crossOrigin": false})
	if err != nil {
		t.Fatal(err)
	}
	cdHash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(append([]byte(nil), authData...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	resp, err := json.Marshal(map[string]any{
		"id": b64(k.credID), "rawId": b64(k.credID), "type": "public-key",
		"response": map[string]string{
			"authenticatorData": b64(authData),
			"clientDataJSON":    b64(clientData),
			"signature":         b64(sig),
			"userHandle":        "",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(resp)
}

// startOptions is the part of the /assertion/start answer a client uses.
type startOptions struct {
	Options struct {
		PublicKey struct {
			Challenge        string `json:"challenge"`
			Timeout          int    `json:"timeout"`
			RPID             string `json:"rpId"`
			AllowCredentials []struct {
				Type string `json:"type"`
				ID   string `json:"id"`
			} `json:"allowCredentials"`
		} `json:"publicKey"`
	} `json:"options"`
	SessionData string `json:"session_data"`
}

// webauthnStart calls /assertion/start for tok.
func (e *env) webauthnStart(tok string) startOptions {
	e.t.Helper()
	rec := e.do(req{method: "POST", path: "/api/v1/auth/mfa/webauthn/assertion/start", header: bearer(tok)})
	wantStatus(e.t, rec, 200)
	var so startOptions
	if err := json.Unmarshal(rec.Body.Bytes(), &so); err != nil {
		e.t.Fatal(err)
	}
	return so
}

// webauthnProof runs a full ceremony and returns the X-MFA-WebAuthn value.
func (e *env) webauthnProof(tok string, key *softKey) string {
	e.t.Helper()
	so := e.webauthnStart(tok)
	assertion := key.assert(e.t, so.Options.PublicKey.RPID, so.Options.PublicKey.Challenge, "http://localhost")
	blob, _ := json.Marshal(map[string]string{"session_data": so.SessionData, "assertion_response": assertion})
	return base64.StdEncoding.EncodeToString(blob)
}

// enrollKey registers a fresh soft key for email through the loopback knob.
func (e *env) enrollKey(email string) *softKey {
	e.t.Helper()
	key := newSoftKey(e.t)
	body, _ := json.Marshal(map[string]any{
		"credential_id":   base64.RawURLEncoding.EncodeToString(key.credID),
		"public_key":      base64.RawURLEncoding.EncodeToString(key.coseKey()),
		"backup_eligible": false,
	})
	rec := e.do(req{method: "POST", path: "/_sandbox/users/" + email + "/webauthn", body: string(body), remote: "127.0.0.1:4000"})
	wantStatus(e.t, rec, 200)
	return key
}
