package sandbox

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"
)

// API tokens. As on the real server, these handlers do no role check of
// their own: any authenticated caller may list, create, change or delete
// any token. Create, update and delete are
// "always" MFA routes, so session callers need a proof on every call.

// apiTokenView is the APIToken JSON object.
type apiTokenView struct {
	ID              int64      `json:"id"`
	PublicID        string     `json:"public_id"`
	Name            string     `json:"name"`
	UserID          int64      `json:"user_id"`
	CreatedByUserID *int64     `json:"created_by_user_id,omitempty"`
	CreatedByEmail  *string    `json:"created_by_email,omitempty"`
	CreatedByName   *string    `json:"created_by_name,omitempty"`
	Permissions     []string   `json:"permissions"`
	CreatedAt       time.Time  `json:"created_at"`
	ExpiresAt       *time.Time `json:"expires_at"`
	LastUsedAt      *time.Time `json:"last_used_at"`
}

func (s *Server) tokenViewLocked(t *apiToken) apiTokenView {
	v := apiTokenView{
		ID: t.id, PublicID: t.publicID, Name: t.name,
		Permissions: append([]string{}, t.permissions...),
		CreatedAt:   t.createdAt.UTC(), ExpiresAt: utcPtr(t.expiresAt), LastUsedAt: utcPtr(t.lastUsedAt),
	}
	if owner, ok := s.users[t.ownerEmail]; ok {
		v.UserID = owner.id
	}
	if creator, ok := s.users[t.createdBy]; ok {
		id, email, name := creator.id, creator.email, creator.name
		v.CreatedByUserID, v.CreatedByEmail, v.CreatedByName = &id, &email, &name
	}
	return v
}

func (s *Server) tokenByPublicIDLocked(id string) *apiToken {
	for _, t := range s.apiTokens {
		if t.publicID == id {
			return t
		}
	}
	return nil
}

// tokenNameTakenLocked reports whether another token already has name.
// Names are unique across the whole gateway, not per owner, as on the real
// server.
func (s *Server) tokenNameTakenLocked(name string, except *apiToken) bool {
	for _, t := range s.apiTokens {
		if t != except && t.name == name {
			return true
		}
	}
	return false
}

// handleListAPITokens is GET /api/v1/api-tokens: every token, oldest first.
func (s *Server) handleListAPITokens(w http.ResponseWriter, _ *http.Request, _ *principal) {
	s.mu.Lock()
	views := make([]apiTokenView, 0, len(s.apiTokens))
	for _, t := range s.apiTokens {
		views = append(views, s.tokenViewLocked(t))
	}
	s.mu.Unlock()
	sort.Slice(views, func(i, j int) bool { return views[i].ID < views[j].ID })
	writeJSON(w, http.StatusOK, views)
}

// handleGetAPIToken is GET /api/v1/api-tokens/{public_id}.
func (s *Server) handleGetAPIToken(w http.ResponseWriter, _ *http.Request, _ *principal, vars map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokenByPublicIDLocked(vars["id"])
	if t == nil {
		writeError(w, http.StatusNotFound, "token not found")
		return
	}
	writeJSON(w, http.StatusOK, s.tokenViewLocked(t))
}

// handleCreateAPIToken is POST /api/v1/api-tokens. It answers 200, not
// 201: the real handler uses 200 for this create.
func (s *Server) handleCreateAPIToken(w http.ResponseWriter, r *http.Request, p *principal) {
	var req struct {
		Name        string   `json:"name"`
		UserEmail   string   `json:"user_email"`
		Role        string   `json:"role"`
		Permissions []string `json:"permissions"`
		// expires_at is accepted and ignored, as on the real server.
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid request")
		return
	}
	name := strings.TrimSpace(req.Name)
	role := strings.ToLower(strings.TrimSpace(req.Role))
	perms := req.Permissions
	if role != "" && len(perms) == 0 { // permissions win over role
		rp, ok := rolePerms[role]
		if !ok {
			writeError(w, http.StatusBadRequest, "invalid role: "+role+" (valid roles: viewer, ops, deployer, cicd, admin)")
			return
		}
		perms = rp
	}
	if len(perms) == 0 {
		writeError(w, http.StatusBadRequest, "permissions required - specify --role or --permission")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	owner := strings.TrimSpace(req.UserEmail)
	if owner == "" {
		owner = p.user.email
	}
	if _, ok := s.users[owner]; !ok {
		writeError(w, http.StatusNotFound, "user not found")
		return
	}
	if name == "" {
		writeError(w, http.StatusBadRequest, "token name is required")
		return
	}
	if s.tokenNameTakenLocked(name, nil) {
		writeError(w, http.StatusBadRequest, "token name already exists")
		return
	}
	secret, t := s.mintAPITokenLocked(owner, name, perms, p.user.email)
	view := s.tokenViewLocked(t)
	writeJSON(w, http.StatusOK, map[string]any{
		"token":       secret,
		"id":          t.id,
		"name":        t.name,
		"permissions": view.Permissions,
		"api_token":   view,
	})
}

// handleUpdateAPIToken is PUT /api/v1/api-tokens/{public_id}.
func (s *Server) handleUpdateAPIToken(w http.ResponseWriter, r *http.Request, _ *principal, vars map[string]string) {
	var req struct {
		Name        *string  `json:"name"`
		Permissions []string `json:"permissions"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid request")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokenByPublicIDLocked(vars["id"])
	if t == nil {
		writeError(w, http.StatusNotFound, "token not found")
		return
	}
	if req.Name != nil {
		if name := strings.TrimSpace(*req.Name); name != "" && name != t.name {
			if s.tokenNameTakenLocked(name, t) {
				writeError(w, http.StatusBadRequest, "token name already exists")
				return
			}
			t.name = name
		}
	}
	if req.Permissions != nil {
		t.permissions = append([]string(nil), req.Permissions...)
	}
	writeJSON(w, http.StatusOK, s.tokenViewLocked(t))
}

// handleDeleteAPIToken is DELETE /api/v1/api-tokens/{public_id}: 204 with
// an empty body. The deleted token stops authenticating at once.
func (s *Server) handleDeleteAPIToken(w http.ResponseWriter, _ *http.Request, _ *principal, vars map[string]string) {
	s.mu.Lock()
	t := s.tokenByPublicIDLocked(vars["id"])
	if t != nil {
		delete(s.apiTokens, t.tokenHash)
	}
	s.mu.Unlock()
	if t == nil {
		writeError(w, http.StatusNotFound, "token not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type roleOption struct {
	Name        string   `json:"name"`
	Label       string   `json:"label"`
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
}

var roleOptions = []roleOption{
	{Name: "viewer", Label: "Viewer", Description: "Read-only access to apps, processes, builds and logs"},
	{Name: "ops", Label: "Ops", Description: "Viewer plus restarts, process management and env reads"},
	{Name: "deployer", Label: "Deployer", Description: "Ops plus builds, releases and env changes"},
	{Name: "cicd", Label: "CI/CD", Description: "Deploys through approved deploy requests"},
	{Name: "admin", Label: "Admin", Description: "Full access"},
}

// handleTokenPermissions is GET /api/v1/api-tokens/permissions.
func (s *Server) handleTokenPermissions(w http.ResponseWriter, _ *http.Request, p *principal) {
	catalog := map[string]bool{"convox:deploy:deploy_with_approval": true}
	for _, rt := range proxyRoutes {
		catalog["convox:"+rt.permission] = true
	}
	roles := make([]roleOption, len(roleOptions))
	for i, ro := range roleOptions {
		ro.Permissions = append([]string(nil), rolePerms[ro.Name]...)
		roles[i] = ro
		for _, perm := range ro.Permissions {
			if !strings.Contains(perm, "*") {
				catalog[perm] = true
			}
		}
	}
	// Native authorisation looks at the owner's roles, so a
	// token caller sees its owner's roles here too.
	s.mu.Lock()
	userRoles := append([]string{}, p.user.roles...)
	s.mu.Unlock()
	userPerms := map[string]bool{}
	for _, role := range userRoles {
		for _, perm := range rolePerms[role] {
			userPerms[perm] = true
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"permissions":         sortedKeys(catalog),
		"roles":               roles,
		"user_roles":          userRoles,
		"user_permissions":    sortedKeys(userPerms),
		"default_permissions": append([]string(nil), rolePerms["cicd"]...),
	})
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
