package gateway

import (
	"context"
	"net/http"
	"time"
)

// LoginStart is the answer of POST /api/v1/auth/cli/start.
type LoginStart struct {
	AuthURL      string `json:"auth_url"`
	State        string `json:"state"`
	CodeVerifier string `json:"code_verifier"`
}

// StartLogin begins a CLI login (docs/gateway-protocol.md, "CLI login").
func (c *Client) StartLogin(ctx context.Context) (*LoginStart, error) {
	var out LoginStart
	if _, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/api/v1/auth/cli/start", Body: struct{}{}}, &out); err != nil {
		return nil, err
	}
	if out.AuthURL == "" || out.State == "" {
		return nil, &BadResponseError{URL: c.BaseURL + "/api/v1/auth/cli/start", Status: 200, Detail: "no auth_url or state in the answer"}
	}
	return &out, nil
}

// CompleteRequest is the body of POST /api/v1/auth/cli/complete.
type CompleteRequest struct {
	State         string `json:"state"`
	CodeVerifier  string `json:"code_verifier"`
	DeviceID      string `json:"device_id,omitempty"`
	DeviceName    string `json:"device_name,omitempty"`
	DeviceOS      string `json:"device_os,omitempty"`
	ClientVersion string `json:"client_version,omitempty"`
}

// LoginResult is the 200 answer of complete (CLILoginResponse).
type LoginResult struct {
	Token              string    `json:"token"`
	Email              string    `json:"email"`
	Name               string    `json:"name"`
	ExpiresAt          time.Time `json:"expires_at"`
	SessionID          int64     `json:"session_id"`
	Channel            string    `json:"channel"`
	DeviceID           string    `json:"device_id"`
	DeviceName         string    `json:"device_name"`
	MFAVerified        bool      `json:"mfa_verified"`
	MFARequired        bool      `json:"mfa_required"`
	EnrollmentRequired bool      `json:"enrollment_required"`
}

// CompleteLogin polls once. It returns (nil, nil) while the login is pending
// (202).
func (c *Client) CompleteLogin(ctx context.Context, req CompleteRequest) (*LoginResult, error) {
	var out LoginResult
	status, err := c.Do(ctx, Request{
		Method: http.MethodPost, Path: "/api/v1/auth/cli/complete", Body: req,
		OK: []int{http.StatusOK, http.StatusAccepted},
	}, &out)
	if err != nil {
		return nil, err
	}
	if status == http.StatusAccepted {
		return nil, nil
	}
	if out.Token == "" {
		return nil, &BadResponseError{URL: c.BaseURL + "/api/v1/auth/cli/complete", Status: status, Detail: "no token in the answer"}
	}
	return &out, nil
}

// Logout revokes the session on the server (docs/gateway-protocol.md, "Logout"). The
// server answers 302 to the web login page, which is not followed.
func (c *Client) Logout(ctx context.Context, token string) error {
	_, err := c.Do(ctx, Request{
		Method: http.MethodGet, Path: "/api/v1/auth/web/logout", Token: token,
		OK: []int{http.StatusFound, http.StatusSeeOther, http.StatusOK, http.StatusNoContent},
	}, nil)
	return err
}

// MFAMethod is one enrolled factor.
type MFAMethod struct {
	ID         int64  `json:"id"`
	Type       string `json:"type"`
	Label      string `json:"label"`
	CLICapable bool   `json:"cli_capable"`
	// LastUsedAt is when the method last passed a verification, on any
	// session: what "Last MFA verification" shows.
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// MFAStatus is the answer of GET /api/v1/auth/mfa/status (docs/gateway-protocol.md, "MFA levels").
type MFAStatus struct {
	Enrolled              bool        `json:"enrolled"`
	Required              bool        `json:"required"`
	Methods               []MFAMethod `json:"methods"`
	RecentStepUpExpiresAt *time.Time  `json:"recent_step_up_expires_at,omitempty"`
	PreferredMethod       string      `json:"preferred_method,omitempty"`
	WebAuthnAvailable     bool        `json:"webauthn_available"`
}

// MFAStatus reads the session's MFA state. It never extends the window.
func (c *Client) MFAStatus(ctx context.Context, token string) (*MFAStatus, error) {
	var out MFAStatus
	if _, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "/api/v1/auth/mfa/status", Token: token}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Info is the answer of GET /api/v1/info (docs/gateway-protocol.md, "Info").
type Info struct {
	User struct {
		Email                 string     `json:"email"`
		Name                  string     `json:"name"`
		Roles                 []string   `json:"roles"`
		MFAEnrolled           bool       `json:"mfa_enrolled"`
		MFARequired           bool       `json:"mfa_required"`
		PreferredMFAMethod    string     `json:"preferred_mfa_method,omitempty"`
		RecentStepUpExpiresAt *time.Time `json:"recent_step_up_expires_at,omitempty"`
	} `json:"user"`
	Rack struct {
		Name  string `json:"name"`
		Alias string `json:"alias"`
		Host  string `json:"host"`
	} `json:"rack"`
	Version struct {
		Version    string `json:"version"`
		CommitHash string `json:"commit_hash"`
	} `json:"version"`
}

// Info fetches the gateway and user profile.
func (c *Client) Info(ctx context.Context, token string) (*Info, error) {
	var out Info
	if _, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "/api/v1/info", Token: token}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Permissions is the part of GET /api/v1/api-tokens/permissions the agent
// reads: the caller's own permissions, with "*" wildcards.
type Permissions struct {
	UserRoles       []string `json:"user_roles"`
	UserPermissions []string `json:"user_permissions"`
}

// UserPermissions lists what the session's user may do. The rack proxy asks
// for MFA before it refuses a missing permission, so the agent reads this
// before it asks the person for a code that would only buy a refusal.
func (c *Client) UserPermissions(ctx context.Context, token string) (*Permissions, error) {
	var out Permissions
	if _, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "/api/v1/api-tokens/permissions", Token: token}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// VerifyResult is the 200 answer of mfa/verify and of the WebAuthn verify
// (docs/gateway-protocol.md, "MFA levels").
type VerifyResult struct {
	MFAVerifiedAt         time.Time `json:"mfa_verified_at"`
	RecentStepUpExpiresAt time.Time `json:"recent_step_up_expires_at"`
}

// VerifyCode opens the step-up window with a TOTP, backup or Yubico code.
func (c *Client) VerifyCode(ctx context.Context, token, code string) (*VerifyResult, error) {
	var out VerifyResult
	body := map[string]any{"code": code, "trust_device": false}
	if _, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/api/v1/auth/mfa/verify", Token: token, Body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AssertionStart is the answer of webauthn/assertion/start (docs/gateway-protocol.md, "WebAuthn assertions").
type AssertionStart struct {
	Options struct {
		PublicKey struct {
			Challenge        string `json:"challenge"`
			Timeout          int    `json:"timeout"`
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

// WebAuthnStart begins an assertion ceremony.
func (c *Client) WebAuthnStart(ctx context.Context, token string) (*AssertionStart, error) {
	var out AssertionStart
	if _, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/api/v1/auth/mfa/webauthn/assertion/start", Token: token}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// WebAuthnVerify sends the assertion and opens the window.
func (c *Client) WebAuthnVerify(ctx context.Context, token, sessionData, response string) (*VerifyResult, error) {
	var out VerifyResult
	body := map[string]any{"session_data": sessionData, "assertion_response": response, "trust_device": false}
	if _, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/api/v1/auth/mfa/webauthn/assertion/verify", Token: token, Body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CLIMFA sends a code for a pending login (docs/gateway-protocol.md, "CLI login"): no session needed, only
// the login state.
func (c *Client) CLIMFA(ctx context.Context, state, code string) error {
	body := map[string]any{"state": state, "method": "totp", "code": code}
	_, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/api/v1/auth/cli/mfa", Body: body}, nil)
	return err
}

// CLIMFAProbe asks the login leg of the MFA endpoint where a pending login
// stands without sending a factor: the method is one the gateway does not
// know, which it refuses only after the code exchange and before any
// verifier (docs/gateway-protocol.md, "Factor acceptance").
func (c *Client) CLIMFAProbe(ctx context.Context, state string) error {
	body := map[string]any{"state": state, "method": "probe"}
	_, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/api/v1/auth/cli/mfa", Body: body}, nil)
	return err
}
