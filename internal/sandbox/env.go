package sandbox

import (
	"encoding/json"
	"net/http"
	"strings"
)

// The gateway-managed app environment (GET/PUT /api/v1/apps/{app}/env;
// docs/gateway-protocol.md, "Environment and releases").
// The sandbox has no env store of its own: it reads and writes releases
// of the rack through the rack's typed methods, which is what the real
// gateway does against a Convox rack through its API.

// userCan authorises a native request. Native handlers judge API-token
// callers by their owner's roles, not by the token's own list, as the
// real server does.
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
	current, err := s.rack.Env(vars["app"])
	if err != nil {
		writeError(w, http.StatusNotFound, "no such app: "+vars["app"])
		return
	}
	env := s.settingsFor(vars["app"]).maskEnv(current, wantSecrets)
	if key := r.URL.Query().Get("key"); key != "" {
		env = map[string]string{key: env[key]} // missing keys come back as ""
	}
	writeJSON(w, http.StatusOK, map[string]any{"env": env})
}

// handlePutEnv is PUT /api/v1/apps/{app}/env, a step-up route. The body is
// {"set":{…},"remove":[…]}; {"env":{…}} is also accepted and treated like
// "set" (stored key by key). A change creates a release on the rack (not
// promoted), so the proxy's releases and this API agree; a no-op answers
// the env alone, as the real server does.
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
	app := vars["app"]
	current, err := s.rack.Env(app)
	if err != nil {
		writeError(w, http.StatusNotFound, "no such app: "+app)
		return
	}
	a := s.settingsFor(app)
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
	resp := map[string]any{"env": a.maskEnv(next, userCan(p.user, "convox:secret:read"))}
	if changed {
		rel, err := s.rack.CreateRelease(app, next, "env updated by "+p.user.email)
		if err != nil { // the app went away since it was read
			writeError(w, http.StatusNotFound, "no such app: "+app)
			return
		}
		resp["release_id"] = rel.ID
	}
	writeJSON(w, http.StatusOK, resp)
}

// envChangeRefusal is the 403 text for changing key, or "".
func envChangeRefusal(a appSettings, key string, canSetSecrets bool) string {
	switch {
	case a.isProtectedKey(key):
		return "This environment variable is protected and cannot be changed."
	case a.isSecretKey(key) && !canSetSecrets:
		return "You don't have permission to modify secrets."
	}
	return ""
}
