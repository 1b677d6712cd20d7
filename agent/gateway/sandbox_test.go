package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/internal/sandbox"
)

// againstSandbox serves an in-process sandbox gateway and returns a client
// for it built the way the agent builds one.
func againstSandbox(t *testing.T) (*gateway.Client, *sandbox.Server) {
	t.Helper()
	sb := sandbox.New(sandbox.Config{})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	c := gateway.New(srv.URL, nil, "rack-gateway-agent/test")
	t.Cleanup(c.HTTP.CloseIdleConnections)
	return c, sb
}

func totpSecret(t *testing.T, sb *sandbox.Server, email string) string {
	t.Helper()
	for _, u := range sb.Users() {
		if u.Email == email {
			return u.TOTPSecret
		}
	}
	t.Fatalf("no sandbox user %s", email)
	return ""
}

// The typed calls decode what the sandbox gateway really answers.
func TestSandboxSessionCalls(t *testing.T) {
	t.Parallel()
	c, sb := againstSandbox(t)
	const email = "deployer@example.com"
	tok, err := sb.IssueSession(email, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	st, err := c.MFAStatus(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Enrolled || len(st.Methods) == 0 || st.RecentStepUpExpiresAt != nil {
		t.Fatalf("MFA status of an unverified session: %+v", st)
	}

	info, err := c.Info(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if info.User.Email != email {
		t.Fatalf("info %+v", info.User)
	}

	perms, err := c.UserPermissions(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(perms.UserRoles, "deployer") || len(perms.UserPermissions) == 0 {
		t.Fatalf("permissions %+v", perms)
	}

	// A wrong code is the server's refusal in its own words.
	_, err = c.VerifyCode(ctx, tok, "not-a-code")
	var ae *gateway.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Code == "" || ae.Text() != ae.Code {
		t.Fatalf("wrong code: err %v", err)
	}

	code, err := totp.GenerateCodeCustom(totpSecret(t, sb, email), time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.VerifyCode(ctx, tok, code)
	if err != nil {
		t.Fatalf("VerifyCode: %v", err)
	}
	if !v.RecentStepUpExpiresAt.After(v.MFAVerifiedAt) {
		t.Fatalf("verify %+v", v)
	}
	if st, err := c.MFAStatus(ctx, tok); err != nil || st.RecentStepUpExpiresAt == nil {
		t.Fatalf("after verify: %+v, %v", st, err)
	}

	// Logout answers a redirect, which counts as success and revokes the
	// session.
	if err := c.Logout(ctx, tok); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	_, err = c.MFAStatus(ctx, tok)
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Text() == "" {
		t.Fatalf("after logout: err %v, want a 401 *APIError", err)
	}
	if n := sb.RequestCount(http.MethodGet, "/app/login"); n != 0 {
		t.Fatalf("the logout redirect was followed (%d)", n)
	}
}

func TestSandboxLoginStartAndPending(t *testing.T) {
	t.Parallel()
	c, _ := againstSandbox(t)
	ctx := context.Background()
	ls, err := c.StartLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ls.AuthURL, c.BaseURL) || ls.State == "" || ls.CodeVerifier == "" {
		t.Fatalf("%+v", ls)
	}
	// Nobody has logged in in a browser: the login is pending.
	res, err := c.CompleteLogin(ctx, gateway.CompleteRequest{State: ls.State, CodeVerifier: ls.CodeVerifier})
	if res != nil || err != nil {
		t.Fatalf("complete before the browser: %+v, %v", res, err)
	}
	// An unknown state is refused with the server's words.
	_, err = c.CompleteLogin(ctx, gateway.CompleteRequest{State: "nope", CodeVerifier: "nope"})
	var ae *gateway.APIError
	if !errors.As(err, &ae) || ae.Status/100 != 4 || ae.Text() == "" {
		t.Fatalf("unknown state: err %v", err)
	}
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}
