package sandbox

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Gateway-managed app environment (§5.3). The sandbox has no separate env
// store: it reads and writes the releases of the in-memory rack, exactly
// what the real gateway does against a Convox rack.

// maskedSecret is the 20-asterisk mask the gateway shows for secrets.
const maskedSecret = "********************"

// isSecretEnvKey is the built-in part of the real rule: names containing
// SECRET or TOKEN or ending in _KEY / _KEY_ID, case-insensitively. The
// per-app settings are added by rackApp.isSecretKey.
func isSecretEnvKey(key string) bool {
	k := strings.ToUpper(key)
	return strings.Contains(k, "SECRET") || strings.Contains(k, "TOKEN") ||
		strings.HasSuffix(k, "_KEY") || strings.HasSuffix(k, "_KEY_ID")
}

// userCan authorises a native request. Native handlers judge API-token
// callers by their owner's roles, not the token's list (§10 item 7).
func userCan(u *userRecord, perm string) bool {
	for _, role := range u.roles {
		for _, g := range rolePerms[role] {
			if permissionMatches(g, perm) {
				return true
			}
		}
	}
	return false
}

// maskEnvLocked masks a's secret (and protected) keys unless showSecrets.
func maskEnvLocked(a *rackApp, env map[string]string, showSecrets bool) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		if !showSecrets && a.isSecretKey(k) {
			v = maskedSecret
		}
		out[k] = v
	}
	return out
}

// handleGetEnv is GET /api/v1/apps/{app}/env[?key=K][&secrets=true]: the
// env of the app's latest release, the one the proxy's releases show.
func (s *Server) handleGetEnv(w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	if !userCan(p.user, "convox:env:read") {
		writeError(w, http.StatusForbidden, "You don't have permission to view environment variables.")
		return
	}
	wantSecrets := strings.EqualFold(r.URL.Query().Get("secrets"), "true")
	if wantSecrets && !userCan(p.user, "convox:secret:read") {
		writeError(w, http.StatusForbidden, "You don't have permission to view secrets.")
		return
	}
	s.mu.Lock()
	a := s.rack.apps[vars["app"]]
	var env map[string]string
	if a != nil {
		env = maskEnvLocked(a, s.appEnvLocked(a.name), wantSecrets)
	}
	s.mu.Unlock()
	if a == nil {
		writeError(w, http.StatusNotFound, "no such app: "+vars["app"])
		return
	}
	if key := r.URL.Query().Get("key"); key != "" {
		env = map[string]string{key: env[key]} // missing keys come back as ""
	}
	writeJSON(w, http.StatusOK, map[string]any{"env": env})
}

// handlePutEnv is PUT /api/v1/apps/{app}/env, a step-up route. The body is
// the spec's {"set":{…},"remove":[…]}; {"env":{…}} is also accepted and
// treated like "set" (stored key by key). A change creates a release on
// the rack (not promoted), so the proxy's releases and this API agree; a
// no-op answers the env alone, as the real server does.
func (s *Server) handlePutEnv(w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	var req struct {
		Env    map[string]string `json:"env"`
		Set    map[string]string `json:"set"`
		Remove []string          `json:"remove"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid payload")
		return
	}
	if !userCan(p.user, "convox:env:set") {
		writeError(w, http.StatusForbidden, "You don't have permission to modify environment variables.")
		return
	}
	set := map[string]string{}
	for k, v := range req.Env {
		set[k] = v
	}
	for k, v := range req.Set {
		set[k] = v
	}
	canSetSecrets := userCan(p.user, "convox:secret:set")
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.rack.apps[vars["app"]]
	if a == nil {
		writeError(w, http.StatusNotFound, "no such app: "+vars["app"])
		return
	}
	current := s.appEnvLocked(a.name)
	next := make(map[string]string, len(current)+len(set))
	for k, v := range current {
		next[k] = v
	}
	changed := false
	for k, v := range set {
		old, exists := current[k]
		if a.isSecretKey(k) && v == maskedSecret {
			// A masked value means "keep the secret I could not see".
			if !exists {
				writeError(w, http.StatusBadRequest, "Masked secret value submitted without an existing secret.")
				return
			}
			continue
		}
		if exists && old == v {
			continue
		}
		if reason := envChangeRefusal(a, k, canSetSecrets); reason != "" {
			writeError(w, http.StatusForbidden, reason)
			return
		}
		changed = true
		next[k] = v
	}
	for _, k := range req.Remove {
		if _, exists := next[k]; !exists {
			continue
		}
		if reason := envChangeRefusal(a, k, canSetSecrets); reason != "" {
			writeError(w, http.StatusForbidden, reason)
			return
		}
		delete(next, k)
		changed = true
	}
	resp := map[string]any{"env": maskEnvLocked(a, next, userCan(p.user, "convox:secret:read"))}
	if changed {
		build, manifest := "", ""
		if base := s.latestReleaseLocked(a.name); base != nil {
			build, manifest = base.Build, base.Manifest
		}
		resp["release_id"] = s.newReleaseLocked(a.name, build, manifest, "env updated by "+p.user.email, next).Id
	}
	writeJSON(w, http.StatusOK, resp)
}

// envChangeRefusal is the §5.3 403 text for changing key, or "".
func envChangeRefusal(a *rackApp, key string, canSetSecrets bool) string {
	switch {
	case a.isProtectedKey(key):
		return "This environment variable is protected and cannot be changed."
	case a.isSecretKey(key) && !canSetSecrets:
		return "You don't have permission to modify secrets."
	}
	return ""
}
