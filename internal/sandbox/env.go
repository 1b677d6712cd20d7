package sandbox

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Gateway-managed app environment (§5.3), kept in memory per app name. An
// app nobody has written to has an empty environment (the sandbox has no
// rack to ask, so there is no "app not found" here).

// maskedSecret is the 20-asterisk mask the gateway shows for secrets.
const maskedSecret = "********************"

// isSecretEnvKey is the built-in part of the real rule: names containing
// SECRET or TOKEN or ending in _KEY / _KEY_ID, case-insensitively. The
// sandbox has no per-app secret or protected settings.
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

func maskEnv(env map[string]string, showSecrets bool) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		if !showSecrets && isSecretEnvKey(k) {
			v = maskedSecret
		}
		out[k] = v
	}
	return out
}

// handleGetEnv is GET /api/v1/apps/{app}/env[?key=K][&secrets=true].
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
	env := maskEnv(s.envs[vars["app"]], wantSecrets)
	s.mu.Unlock()
	if key := r.URL.Query().Get("key"); key != "" {
		env = map[string]string{key: env[key]} // missing keys come back as ""
	}
	writeJSON(w, http.StatusOK, map[string]any{"env": env})
}

// handlePutEnv is PUT /api/v1/apps/{app}/env, a step-up route. The body is
// the spec's {"set":{…},"remove":[…]}; {"env":{…}} is also accepted and
// treated like "set" (stored key by key). A change answers a fresh
// release_id; a no-op answers the env alone, as the real server does.
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
	current := s.envs[vars["app"]]
	next := make(map[string]string, len(current)+len(set))
	for k, v := range current {
		next[k] = v
	}
	changed := false
	for k, v := range set {
		old, exists := current[k]
		if isSecretEnvKey(k) {
			if v == maskedSecret {
				// A masked value means "keep the secret I could not see".
				if !exists {
					writeError(w, http.StatusBadRequest, "Masked secret value submitted without an existing secret.")
					return
				}
				continue
			}
			if !canSetSecrets && (!exists || old != v) {
				writeError(w, http.StatusForbidden, "You don't have permission to modify secrets.")
				return
			}
		}
		changed = changed || !exists || old != v
		next[k] = v
	}
	for _, k := range req.Remove {
		if _, exists := next[k]; !exists {
			continue
		}
		if isSecretEnvKey(k) && !canSetSecrets {
			writeError(w, http.StatusForbidden, "You don't have permission to modify secrets.")
			return
		}
		delete(next, k)
		changed = true
	}
	resp := map[string]any{"env": maskEnv(next, userCan(p.user, "convox:secret:read"))}
	if changed {
		s.envs[vars["app"]] = next
		resp["release_id"] = newReleaseID()
	}
	writeJSON(w, http.StatusOK, resp)
}
