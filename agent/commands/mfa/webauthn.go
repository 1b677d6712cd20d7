package mfa

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/commands/native"
	"github.com/rack-gateway/rack-gateway/agent/ledger"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/platform/fido"
)

// enrollKeyOptions are mfa enroll webauthn's flags.
type enrollKeyOptions struct {
	label string
}

func (o *enrollKeyOptions) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&o.label, "label", "", `Name for the key in your method list (the gateway's default: "Security Key")`)
}

// keyStart is the answer of enroll/webauthn/start: go-webauthn's creation
// options under public_key_options.
type keyStart struct {
	MethodID int64 `json:"method_id"`
	Options  struct {
		PublicKey struct {
			RP struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"rp"`
			User struct {
				ID          string `json:"id"`
				Name        string `json:"name"`
				DisplayName string `json:"displayName"`
			} `json:"user"`
			Challenge string `json:"challenge"`
			Params    []struct {
				Alg int `json:"alg"`
			} `json:"pubKeyCredParams"`
			Exclude []struct {
				ID string `json:"id"`
			} `json:"excludeCredentials"`
			Selection struct {
				UserVerification   string `json:"userVerification"`
				ResidentKey        string `json:"residentKey"`
				RequireResidentKey bool   `json:"requireResidentKey"`
			} `json:"authenticatorSelection"`
		} `json:"publicKey"`
	} `json:"public_key_options"`
	BackupCodes []string `json:"backup_codes"`
}

// b64url decodes a WebAuthn binary field, padded or not.
func b64url(s string) ([]byte, error) {
	if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err == nil {
		return b, nil
	}
	return base64.StdEncoding.DecodeString(s)
}

// request turns the start answer into a ceremony for the key.
func (st *keyStart) request(origin string) (fido.CreationRequest, error) {
	pk := st.Options.PublicKey
	uid, err := b64url(pk.User.ID)
	if err != nil {
		return fido.CreationRequest{}, fmt.Errorf("the gateway's user id is not base64url: %w", err)
	}
	req := fido.CreationRequest{
		RPID: pk.RP.ID, RPName: pk.RP.Name, Challenge: pk.Challenge, Origin: origin,
		UserID: uid, UserName: pk.User.Name, UserDisplayName: pk.User.DisplayName,
		UserVerification: pk.Selection.UserVerification,
		ResidentKey:      pk.Selection.ResidentKey == "required" || pk.Selection.RequireResidentKey,
	}
	for _, p := range pk.Params {
		req.Algorithms = append(req.Algorithms, p.Alg)
	}
	for _, c := range pk.Exclude {
		if id, err := b64url(c.ID); err == nil {
			req.ExcludeCredentials = append(req.ExcludeCredentials, id)
		}
	}
	return req, nil
}

func (o *enrollKeyOptions) Run(ctx context.Context, x *kit.Ctx) (err error) {
	a := x.Core.Authenticator
	if a == nil {
		return ipc.Errorf(ipc.CodeNoAuthenticator, "this agent has no security-key support").
			WithHint("Install an agent built with libfido2, or enroll an authenticator app: rack-gateway mfa enroll totp")
	}
	if ok, perr := a.Present(ctx); perr != nil || !ok {
		return ipc.Errorf(ipc.CodeNoAuthenticator, "no security key found").
			WithHint("Plug in your security key and run the command again (nothing was sent to the gateway).")
	}
	ss, err := openSession(x)
	if err != nil {
		return err
	}
	var st keyStart
	if _, err := call(ctx, x, ss.t, http.MethodPost, pathKeyStart, nil, &st); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			printBackupCodes(x, st.BackupCodes, "The gateway handed out backup codes when the enrolment started, though the key was not added. These work now:")
		}
	}()
	req, err := st.request(originOf(ss.t.URL))
	if err != nil {
		return ipc.Errorf(ipc.CodeGateway, "%v", err)
	}
	req.Touch = func() { x.Progress("Touch your security key...") }
	req.PIN = x.PINPrompt(ss.t)
	cred, err := a.MakeCredential(ctx, req)
	if err != nil {
		return keyErr(x, err)
	}
	// The gateway counts no enrolment, but every factor sent goes through
	// the ledger, on the side of the account.
	tk, err := x.Core.MFA.Ledger.Reserve(ss.s.User, ledger.WebAuthn, "")
	if err != nil {
		return ledgerErr(err)
	}
	body := map[string]any{"method_id": st.MethodID, "credential": cred.Response()}
	if o.label != "" {
		body["label"] = o.label
	}
	raw, err := send(ctx, x, ss.t, http.MethodPost, pathKeyConfirm, body)
	if err != nil {
		_ = tk.Settle(ledger.Rejected)
		return err
	}
	if raw.Status/100 != 2 {
		_ = tk.Settle(ledger.Rejected)
		return kit.ResponseErr(ss.t, http.MethodPost, raw)
	}
	_ = tk.Settle(ledger.Accepted)
	var res struct {
		MethodID int64 `json:"method_id"`
	}
	if err := native.Decode(raw, &res); err != nil {
		return err
	}
	// The engine chooses WebAuthn only for keys it knows of.
	x.Core.MFA.Unknown(ss.s.Key)
	label := o.label
	if label == "" {
		label = "Security Key"
	}
	fmt.Fprintf(x.Out, "Security key %q enrolled (method %d).\n", label, res.MethodID)
	printBackupCodes(x, st.BackupCodes, "Backup codes:")
	return nil
}

// keyErr words what the key said.
func keyErr(x *kit.Ctx, err error) error {
	switch {
	case errors.Is(err, fido.ErrCredentialExcluded):
		return ipc.Errorf(ipc.CodeUsage, "this security key is already enrolled for your account").
			WithHint("'rack-gateway mfa methods' lists your methods.")
	case errors.Is(err, fido.ErrNoDevice):
		return ipc.Errorf(ipc.CodeNoAuthenticator, "no security key found").
			WithHint("Plug in your security key and run the command again.")
	case errors.Is(err, fido.ErrPINInvalid), errors.Is(err, fido.ErrPINBlocked):
		x.Core.PIN.Clear()
		return ipc.Errorf(ipc.CodeMFAFailed, "%v", err).
			WithHint("The key counts wrong PINs and blocks itself; check the PIN before trying again.")
	case errors.Is(err, fido.ErrPINRequired):
		return ipc.Errorf(ipc.CodeMFAFailed, "%v", err)
	case errors.Is(err, fido.ErrCancelled):
		return ipc.Interrupted("the security key was not touched, or the enrolment was cancelled")
	}
	return ipc.Errorf(ipc.CodeInternal, "security key: %v", err)
}
