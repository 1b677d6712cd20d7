package soft

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/rack-gateway/rack-gateway/platform/fido"
)

// MakeCredential registers the authenticator's one credential for the
// relying party, in a CTAP2 key's order: exclude list, PIN, user
// presence. It is a key with room for a single credential, so every
// registration hands out the same ID and public key; the server then sees
// the key it already has in the exclude list, and the answer is
// fido.ErrCredentialExcluded, as from a real key enrolled twice.
//
// The attestation is "none", the sign count the current one, and the user
// handle is not kept: the gateway's credentials are not discoverable.
func (a *Authenticator) MakeCredential(ctx context.Context, req fido.CreationRequest) (*fido.Credential, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", fido.ErrCancelled, err)
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if !req.Allows(fido.AlgES256) {
		return nil, fmt.Errorf("soft: the server accepts no ES256 credential")
	}
	a.mu.Lock()
	present, fail, pin, delay := a.present, a.fail, a.pin, a.touchDelay
	a.fail = nil
	credID := append([]byte(nil), a.credID...)
	a.mu.Unlock()
	switch {
	case fail != nil:
		return nil, fail
	case !present:
		return nil, fido.ErrNoDevice
	case req.Excludes(credID):
		return nil, fido.ErrCredentialExcluded
	}
	uv := req.RequiresUV()
	if pin != "" && req.UserVerification != "discouraged" {
		preq := fido.Request{PIN: req.PIN}
		if err := checkPIN(ctx, &preq, pin); err != nil {
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
	clientData := fido.CreationClientData(req.Challenge, req.Origin)
	a.mu.Lock()
	count, cose := a.signCount, coseES256(&a.key.PublicKey)
	a.mu.Unlock()
	authData := fido.AttestedAuthData(sha256.Sum256([]byte(req.RPID)), uv, count, credID, cose)
	return &fido.Credential{
		ID:                credID,
		AttestationObject: fido.NoneAttestation(authData),
		ClientDataJSON:    clientData,
	}, nil
}
