//go:build cgo && !nofido

package fido

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"

	libfido2 "github.com/keys-pub/go-libfido2"
)

// MakeCredential runs one makeCredential on the first key found.
//
// This go-libfido2 version takes no exclude list, so the key is first asked
// silently (no touch, no PIN, as HasCredential does) whether it holds one
// of req.ExcludeCredentials; a browser would get CTAP's "credential
// excluded" from the key instead. The attestation statement is dropped and
// "none" sent, as a browser does when the server asks for no attestation.
func (h *hardware) MakeCredential(ctx context.Context, req CreationRequest) (*Credential, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	typ, err := credentialType(&req)
	if err != nil {
		return nil, err
	}
	if len(req.ExcludeCredentials) > 0 {
		held, err := h.HasCredential(ctx, req.RPID, req.ExcludeCredentials)
		if err != nil {
			return nil, err
		}
		if held {
			return nil, ErrCredentialExcluded
		}
	}
	dev, slot, err := h.claim(ctx)
	if err != nil {
		return nil, err
	}
	defer slot.release()
	// pinFor reads only the verification requirement and the PIN hook.
	pin, err := pinFor(ctx, dev, &Request{UserVerification: req.UserVerification, PIN: req.PIN})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, cancelled(err)
	}
	opts := &libfido2.MakeCredentialOpts{}
	if req.RequiresUV() {
		opts.UV = libfido2.True // see Assert: with a PIN, libfido2 uses the PIN protocol instead
	}
	if req.ResidentKey {
		opts.RK = libfido2.True
	}
	clientData := CreationClientData(req.Challenge, req.Origin)
	hash := sha256.Sum256(clientData)
	rp := libfido2.RelyingParty{ID: req.RPID, Name: req.RPName}
	user := libfido2.User{ID: req.UserID, Name: req.UserName, DisplayName: req.UserDisplayName}

	// run is written for assertions; the attestation travels beside it.
	// It is read only after run returned the call's own result.
	var att *libfido2.Attestation
	slot.handOff()
	_, err = h.run(ctx, dev, req.Touch, func() (*libfido2.Assertion, error) {
		a, err := dev.MakeCredential(hash[:], rp, user, typ, pin, opts)
		att = a
		return &libfido2.Assertion{}, err
	})
	if err != nil {
		return nil, err
	}
	if att == nil || len(att.CredentialID) == 0 {
		return nil, errors.New("fido: security key returned no credential")
	}
	authData, err := unwrapAuthData(att.AuthData, req.RPID)
	if err != nil {
		return nil, err
	}
	return &Credential{
		ID:                bytes.Clone(att.CredentialID),
		AttestationObject: NoneAttestation(authData),
		ClientDataJSON:    clientData,
		Transports:        []string{"usb"},
	}, nil
}

// credentialType picks the first algorithm of the server's list that
// libfido2 can make.
func credentialType(req *CreationRequest) (libfido2.CredentialType, error) {
	if len(req.Algorithms) == 0 {
		return libfido2.ES256, nil
	}
	for _, a := range req.Algorithms {
		switch a {
		case AlgES256:
			return libfido2.ES256, nil
		case AlgEdDSA:
			return libfido2.EDDSA, nil
		case AlgRS256:
			return libfido2.RS256, nil
		}
	}
	return 0, errors.New("fido: the server accepts no key type a security key can make (ES256, EdDSA, RS256)")
}
