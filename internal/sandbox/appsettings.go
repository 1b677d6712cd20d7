package sandbox

import (
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
)

// Per-app gateway settings: which env keys are secret or protected, and
// which commands a deploy_with_approval token may run. They belong to the
// gateway, not to the rack, so they live here and are keyed by app name.

// maskedSecret is the 20-asterisk mask the gateway shows for secrets.
const maskedSecret = "********************"

// appSettings are one app's secret_env_vars, protected_env_vars and
// approved deploy commands.
type appSettings struct {
	secretEnvVars    []string
	protectedEnvVars []string
	approvedCommands []string
}

// seedAppSettings gives the seeded app its fixed settings; every other app
// has none. Caller holds s.mu.
func (s *Server) seedAppSettings() {
	s.appSettings = map[string]*appSettings{
		convoxfake.SeedApp: {
			protectedEnvVars: []string{"DATABASE_URL"},
			approvedCommands: []string{"bin/migrate"},
		},
	}
}

// settingsFor returns a copy of app's settings (empty for an app without
// any), so callers can use it after releasing the lock.
func (s *Server) settingsFor(app string) appSettings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settingsLocked(app)
}

func (s *Server) settingsLocked(app string) appSettings {
	if a := s.appSettings[app]; a != nil {
		return *a
	}
	return appSettings{}
}

// forgetAppSettings drops the settings of an app the rack deleted, so an
// app created again under that name starts without any, as it always did
// in the sandbox.
func (s *Server) forgetAppSettings(app string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.appSettings, app)
}

// isSecretEnvKey is the built-in part of the gateway's secret rule: names
// containing SECRET or TOKEN or ending in _KEY / _KEY_ID,
// case-insensitively. The per-app settings are added by
// appSettings.isSecretKey.
func isSecretEnvKey(key string) bool {
	k := strings.ToUpper(key)
	return strings.Contains(k, "SECRET") || strings.Contains(k, "TOKEN") ||
		strings.HasSuffix(k, "_KEY") || strings.HasSuffix(k, "_KEY_ID")
}

// isSecretKey is the secret rule for this app: the built-in name rule plus
// its secret_env_vars and protected_env_vars settings.
func (a appSettings) isSecretKey(k string) bool {
	return isSecretEnvKey(k) || a.isProtectedKey(k) || containsFold(a.secretEnvVars, k)
}

func (a appSettings) isProtectedKey(k string) bool { return containsFold(a.protectedEnvVars, k) }

// commandApproved reports whether cmd is one of the app's approved deploy
// commands.
func (a appSettings) commandApproved(cmd string) bool {
	return cmd != "" && containsString(a.approvedCommands, strings.TrimSpace(cmd))
}

// maskEnv masks the secret (and protected) keys of env unless showSecrets.
func (a appSettings) maskEnv(env map[string]string, showSecrets bool) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		if !showSecrets && a.isSecretKey(k) {
			v = maskedSecret
		}
		out[k] = v
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
