package stepup

import "testing"

func TestLevelOf(t *testing.T) {
	cases := []struct {
		method, path string
		want         Level
	}{
		{"GET", "/api/v1/rack-proxy/apps", None},
		{"POST", "/api/v1/rack-proxy/apps/web/releases", StepUp},
		{"POST", "/api/v1/rack-proxy/apps/web/releases/R1/promote", StepUp},
		{"DELETE", "/api/v1/rack-proxy/apps/web", Always},
		{"DELETE", "/api/v1/rack-proxy/apps/web/processes/p-1", StepUp},
		{"SOCKET", "/api/v1/rack-proxy/apps/web/processes/p-1/exec", StepUp},
		{"GET", "/api/v1/rack-proxy/apps/web/logs", None},
		{"POST", "/api/v1/rack-proxy/apps/web/objects/tmp/x.tgz", None},
		{"PUT", "/api/v1/apps/web/env", StepUp},
		{"GET", "/api/v1/apps/web/env?secrets=true", None},
		{"POST", "/api/v1/api-tokens", Always},
		{"DELETE", "/api/v1/api-tokens/abc", Always},
		{"GET", "/api/v1/api-tokens", None},
		{"POST", "/api/v1/deploy-approval-requests/u-1/approve", Always},
		{"POST", "/api/v1/deploy-approval-requests", None},
		{"POST", "/api/v1/auth/mfa/verify", None},
		{"POST", "/api/v1/auth/mfa/enroll/totp/start", None},
		{"POST", "/api/v1/auth/mfa/enroll/totp/confirm", None},
		{"PUT", "/api/v1/auth/mfa/methods/7", StepUp},
		{"DELETE", "/api/v1/auth/mfa/methods/7", Always},
		{"POST", "/api/v1/auth/mfa/backup-codes/regenerate", StepUp},
		{"DELETE", "/api/v1/auth/mfa/trusted-devices/3", StepUp},
		{"POST", "/api/v1/users", Always},
		{"GET", "/api/v1/users/a@example.com/sessions", None},
		{"POST", "/api/v1/users/a@example.com/sessions/3/revoke", Always},
		{"POST", "/api/v1/users/a@example.com/sessions/revoke_all", Always},
		{"GET", "/api/v1/audit-logs?limit=5", None},
		{"GET", "/elsewhere", None},
	}
	for _, c := range cases {
		if got := LevelOf(c.method, c.path); got != c.want {
			t.Errorf("LevelOf(%s %s) = %v, want %v", c.method, c.path, got, c.want)
		}
	}
}
