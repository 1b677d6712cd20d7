package mfa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/commands/native"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/ledger"
	"github.com/rack-gateway/rack-gateway/agent/stepup"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// The routes (docs/gateway-protocol.md, "MFA enrolment and management"),
// relative to /api/v1, with their MFA levels on the server.
const (
	pathStatus      = "/auth/mfa/status"                  // none
	pathTOTPStart   = "/auth/mfa/enroll/totp/start"       // none
	pathTOTPConfirm = "/auth/mfa/enroll/totp/confirm"     // none
	pathYubiEnroll  = "/auth/mfa/enroll/yubiotp/start"    // none
	pathKeyStart    = "/auth/mfa/enroll/webauthn/start"   // none
	pathKeyConfirm  = "/auth/mfa/enroll/webauthn/confirm" // none
	pathMethod      = "/auth/mfa/methods/"                // PUT step-up, DELETE always
	pathPreferred   = "/auth/mfa/preferred-method"        // step-up
	pathRegenerate  = "/auth/mfa/backup-codes/regenerate" // step-up
	pathTrusted     = "/auth/mfa/trusted-devices/"        // DELETE step-up
)

// send sends one native request through kit's Call (token and MFA) and
// returns the answer whatever its status.
func send(ctx context.Context, x *kit.Ctx, t *kit.Target, method, path string, body any) (*gateway.Raw, error) {
	return native.Send(ctx, x, t, method, path, body)
}

// call is send for answers that must be 2xx: any other status becomes the
// server's own words. out, when not nil, receives the JSON body.
func call(ctx context.Context, x *kit.Ctx, t *kit.Target, method, path string, body, out any) (*gateway.Raw, error) {
	raw, err := native.Call(ctx, x, t, method, path, body)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := native.Decode(raw, out); err != nil {
			return nil, err
		}
	}
	return raw, nil
}

// method is one entry of the status's methods.
type method struct {
	ID          int64      `json:"id"`
	Type        string     `json:"type"`
	Label       string     `json:"label"`
	CLICapable  bool       `json:"cli_capable"`
	CreatedAt   time.Time  `json:"created_at"`
	ConfirmedAt *time.Time `json:"confirmed_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
}

// trustedDevice is one entry of the status's trusted_devices.
type trustedDevice struct {
	ID         int64      `json:"id"`
	Label      string     `json:"label"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	IPAddress  string     `json:"ip_address"`
}

// status is GET /auth/mfa/status, with each list also kept as sent so
// --output json shows every field the server has.
type status struct {
	Methods        []method        `json:"methods"`
	TrustedDevices []trustedDevice `json:"trusted_devices"`
	BackupCodes    struct {
		Total  int `json:"total"`
		Unused int `json:"unused"`
	} `json:"backup_codes"`
	PreferredMethod string `json:"preferred_method"`

	rawMethods, rawTrusted json.RawMessage
}

func getStatus(ctx context.Context, x *kit.Ctx, t *kit.Target) (*status, error) {
	raw, err := call(ctx, x, t, http.MethodGet, pathStatus, nil, nil)
	if err != nil {
		return nil, err
	}
	var st status
	if err := native.Decode(raw, &st); err != nil {
		return nil, err
	}
	var lists struct {
		Methods        json.RawMessage `json:"methods"`
		TrustedDevices json.RawMessage `json:"trusted_devices"`
	}
	_ = json.Unmarshal(raw.Body, &lists)
	st.rawMethods, st.rawTrusted = lists.Methods, lists.TrustedDevices
	return &st, nil
}

// session is what a command that sends a code itself needs: the rack, its
// token and the engine's name for the session.
type session struct {
	t   *kit.Target
	tok string
	s   stepup.Session
}

func openSession(x *kit.Ctx) (*session, error) {
	t, err := x.ResolveRack()
	if err != nil {
		return nil, err
	}
	tok, err := x.Credential(t)
	if err != nil {
		return nil, err
	}
	return &session{t: t, tok: tok, s: x.MFASession(t, tok)}, nil
}

// ledgerErr words a ledger refusal (or a ledger that cannot be used) as
// the engine does: nothing was sent.
func ledgerErr(err error) error {
	var rf *ledger.Refusal
	if errors.As(err, &rf) {
		return ipc.Errorf(ipc.CodeMFALocked, "%s", rf.Message)
	}
	return ipc.Errorf(ipc.CodeMFALocked, "Nothing was sent: the MFA attempt ledger could not be updated (%v).", err).
		WithHint("Check that the state directory ($XDG_STATE_HOME/rack-gateway) is writable, then try again.")
}

// retryable reports ledger refusals another code gets past (this code
// was sent already, or this step was).
func retryable(err error) (*ledger.Refusal, bool) {
	var rf *ledger.Refusal
	if errors.As(err, &rf) && (rf.Reason == "replay" || rf.Reason == "same_step") {
		return rf, true
	}
	return nil, false
}

// who names the terminal for the engine's window, as kit does.
func who(x *kit.Ctx) string {
	if x.Inv.TTYName != "" {
		return x.Inv.TTYName
	}
	return fmt.Sprintf("pid %d", x.Inv.PID)
}

// originOf is the gateway's origin (scheme://host[:port]) for
// clientDataJSON (docs/gateway-protocol.md, "WebAuthn assertions").
func originOf(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	return u.Scheme + "://" + u.Host
}

// needTerminal is the refusal of an enrolment that must ask something.
func needTerminal(what string) error {
	return ipc.Errorf(ipc.CodeUsage, "%s needs an interactive terminal: it asks for a code from the new method", what).
		WithHint("Run it in a terminal (nothing was sent to the gateway).")
}

// printBackupCodes shows codes once, with the advice that goes with them.
func printBackupCodes(x *kit.Ctx, codes []string, heading string) {
	if len(codes) == 0 {
		return
	}
	fmt.Fprintln(x.Out, heading)
	for _, c := range codes {
		fmt.Fprintf(x.Out, "  %s\n", c)
	}
	x.Progress("Keep these backup codes in a password manager: each works once, in place of a code, and they are not shown again.")
}
