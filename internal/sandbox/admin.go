package sandbox

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Administration routes: users, their sessions, roles, global settings and
// the audit log (docs/gateway-protocol.md, "Sessions and administration").
// Every one is refused to API tokens, then authorised from the caller's
// roles, and only then held to its MFA level, as the real server's
// authorisation middleware runs before its MFA one: a deployer's user
// create is a 403 that costs no code.

// Refusal texts of the real authorisation middleware.
const (
	msgInsufficientPermissions = "insufficient permissions"
	msgTokensRefused           = "API tokens cannot use this endpoint"
)

// Gateway permissions of the administration routes.
const (
	permUserList     = "gateway:user:list"
	permUserRead     = "gateway:user:read"
	permUserCreate   = "gateway:user:create"
	permUserUpdate   = "gateway:user:update"
	permUserDelete   = "gateway:user:delete"
	permAuditLogRead = "gateway:audit_log:read"
)

// adminState is what the administration routes keep besides the user
// records (store.go): the audit log and the facts about users the
// sandbox's userRecord does not hold. Guarded by Server.mu.
type adminState struct {
	createdAt map[string]time.Time // users made through POST /users
	createdBy map[string]string    // e-mail → creator's e-mail
	updatedAt map[string]time.Time
	lockedBy  map[string]string // e-mail → the admin who locked it
	audit     []*auditEvent
	nextAudit int64
}

// adminLocked returns the state, made on first use. Caller holds s.mu.
func (s *Server) adminLocked() *adminState {
	a := &s.admin
	if a.createdAt == nil {
		a.createdAt, a.createdBy = map[string]time.Time{}, map[string]string{}
		a.updatedAt, a.lockedBy = map[string]time.Time{}, map[string]string{}
	}
	return a
}

// adminAccess is a route's authorisation policy.
type adminAccess struct {
	perm string // the permission needed; "" lets any person through
	own  bool   // the caller's own {email} passes without perm
}

// adminRoute is one administration route with its policy and MFA level.
type adminRoute struct {
	method, pattern string
	access          adminAccess
	level           mfaLevel
	handler         func(http.ResponseWriter, *http.Request, *principal, map[string]string)
}

// adminPatternRoutes lists the administration routes for the router. Each
// is a native route of level none whose handler authorises and then
// applies the route's own MFA level (see adminGuard).
func (s *Server) adminPatternRoutes() []nativePatternRoute {
	table := []adminRoute{
		{http.MethodGet, "/api/v1/roles", adminAccess{}, mfaNone, s.handleListRoles},
		{http.MethodGet, "/api/v1/settings", adminAccess{}, mfaNone, s.handleGlobalSettings},
		{http.MethodGet, "/api/v1/users", adminAccess{perm: permUserList}, mfaNone, s.handleListUsers},
		{http.MethodPost, "/api/v1/users", adminAccess{perm: permUserCreate}, mfaAlways, s.handleCreateUser},
		{http.MethodGet, "/api/v1/users/{email}", adminAccess{perm: permUserRead, own: true}, mfaNone, s.handleGetUser},
		{http.MethodPut, "/api/v1/users/{email}", adminAccess{perm: permUserUpdate}, mfaAlways, s.handleUpdateUser},
		{http.MethodDelete, "/api/v1/users/{email}", adminAccess{perm: permUserDelete}, mfaAlways, s.handleDeleteUser},
		{http.MethodPost, "/api/v1/users/{email}/lock", adminAccess{perm: permUserUpdate}, mfaAlways, s.handleLockUser},
		{http.MethodPost, "/api/v1/users/{email}/unlock", adminAccess{perm: permUserUpdate}, mfaAlways, s.handleUnlockUser},
		{http.MethodGet, "/api/v1/users/{email}/sessions", adminAccess{perm: permUserRead, own: true}, mfaNone, s.handleListSessions},
		{http.MethodPost, "/api/v1/users/{email}/sessions/{sessionID}/revoke", adminAccess{perm: permUserUpdate, own: true}, mfaAlways, s.handleRevokeSession},
		{http.MethodPost, "/api/v1/users/{email}/sessions/revoke_all", adminAccess{perm: permUserUpdate, own: true}, mfaAlways, s.handleRevokeAllSessions},
		{http.MethodGet, "/api/v1/audit-logs", adminAccess{perm: permAuditLogRead}, mfaNone, s.handleListAuditLogs},
		{http.MethodGet, "/api/v1/audit-logs/export", adminAccess{perm: permAuditLogRead}, mfaNone, s.handleExportAuditLogs},
	}
	out := make([]nativePatternRoute, len(table))
	for i, rt := range table {
		out[i] = nativePatternRoute{method: rt.method, pattern: rt.pattern, level: mfaNone, handler: s.adminGuard(rt)}
	}
	return out
}

// adminGuard runs a route's checks in the real server's order: tokens
// refused, then the access policy, then the MFA level, then the handler.
func (s *Server) adminGuard(rt adminRoute) func(http.ResponseWriter, *http.Request, *principal, map[string]string) {
	return func(w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
		if p.isAPIToken() {
			writeError(w, http.StatusForbidden, msgTokensRefused)
			return
		}
		if !s.adminAllowed(p, rt.access, vars["email"]) {
			writeError(w, http.StatusForbidden, msgInsufficientPermissions)
			return
		}
		if !s.enforceNativeMFA(w, rt.level, p) {
			return
		}
		rt.handler(w, r, p, vars)
	}
}

// adminAllowed applies an access policy to a person. The "own" rule
// matches the e-mail exactly, as the real one does.
func (s *Server) adminAllowed(p *principal, a adminAccess, email string) bool {
	if a.perm == "" || (a.own && email == p.user.email) {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return adminCan(p.user, a.perm)
}

// adminCan reports whether u's roles grant perm. The team directory
// (gateway:user:list) is every role's on the real server; the sandbox's
// role table predates it, so it is granted here.
func adminCan(u *userRecord, perm string) bool {
	return perm == permUserList || userCan(u, perm)
}

// roleDescriptor is the real RoleDescriptor.
type roleDescriptor struct {
	Name        string   `json:"name"`
	Label       string   `json:"label"`
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
}

// handleListRoles is GET /api/v1/roles: every role by name. The admin
// role is shown as convox:*:*, as the real handler shows it.
func (s *Server) handleListRoles(w http.ResponseWriter, _ *http.Request, _ *principal, _ map[string]string) {
	out := map[string]roleDescriptor{}
	for _, ro := range roleOptions {
		perms := append([]string{}, rolePerms[ro.Name]...)
		if ro.Name == "admin" {
			perms = []string{"convox:*:*"}
		}
		out[ro.Name] = roleDescriptor{Name: ro.Name, Label: ro.Label, Description: ro.Description, Permissions: perms}
	}
	writeJSON(w, http.StatusOK, out)
}

// settingView is one global setting: its value and where it came from.
type settingView struct {
	Value  any    `json:"value"`
	Source string `json:"source"`
	EnvVar string `json:"env_var,omitempty"`
}

// handleGlobalSettings is GET /api/v1/settings: the settings the sandbox
// has, "default" while at the real default and "db" once changed.
func (s *Server) handleGlobalSettings(w http.ResponseWriter, _ *http.Request, _ *principal, _ map[string]string) {
	s.mu.Lock()
	window, destructive := int(s.window/time.Minute), s.allowDestructive
	approvals, approvalWindow := s.approvalsEnabled, int(s.approvalWindow/time.Minute)
	s.mu.Unlock()
	setting := func(v, def any) settingView {
		if v == def {
			return settingView{Value: v, Source: "default"}
		}
		return settingView{Value: v, Source: "db"}
	}
	writeJSON(w, http.StatusOK, map[string]settingView{
		"mfa_require_all_users":          setting(true, true),
		"mfa_step_up_window_minutes":     setting(window, 10),
		"mfa_trusted_device_ttl_days":    setting(30, 30),
		"session_timeout_minutes":        setting(5, 5),
		"allow_destructive_actions":      setting(destructive, false),
		"deploy_approvals_enabled":       setting(approvals, true),
		"deploy_approval_window_minutes": setting(approvalWindow, 15),
	})
}

// sessionView is the real UserSessionResponse: times as RFC 3339 UTC
// strings, not time values.
type sessionView struct {
	ID        int64          `json:"id"`
	CreatedAt string         `json:"created_at"`
	LastSeen  string         `json:"last_seen_at"`
	ExpiresAt string         `json:"expires_at"`
	Channel   string         `json:"channel"`
	IPAddress string         `json:"ip_address,omitempty"`
	UserAgent string         `json:"user_agent,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

// activeLocked reports whether sess still authenticates: not revoked and
// not expired, the checks validateSessionLocked makes.
func (s *Server) activeLocked(sess *session) bool {
	now := s.now()
	return sess.revokedAt == nil && !sess.expiresAt.Before(now) && !sess.lastSeenAt.Add(sess.ttl).Before(now)
}

// userSessionsLocked returns email's active sessions, most recently seen
// first (ties: newest first).
func (s *Server) userSessionsLocked(email string) []*session {
	var out []*session
	for _, sess := range s.sessions {
		if sess.userEmail == email && s.activeLocked(sess) {
			out = append(out, sess)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].lastSeenAt.Equal(out[j].lastSeenAt) {
			return out[i].lastSeenAt.After(out[j].lastSeenAt)
		}
		return out[i].id > out[j].id
	})
	return out
}

func viewSession(sess *session) sessionView {
	const layout = time.RFC3339
	meta := map[string]any{"login_flow": sess.channel, "ttl_seconds": int64(sess.ttl / time.Second)}
	for k, v := range map[string]string{"device_id": sess.deviceID, "device_name": sess.deviceName,
		"device_os": sess.deviceOS, "client_version": sess.clientVersion} {
		if v != "" {
			meta[k] = v
		}
	}
	return sessionView{
		ID: sess.id, Channel: sess.channel, Metadata: meta,
		CreatedAt: sess.createdAt.UTC().Format(layout),
		LastSeen:  sess.lastSeenAt.UTC().Format(layout),
		ExpiresAt: sess.expiresAt.UTC().Format(layout),
	}
}

// handleListSessions is GET /api/v1/users/{email}/sessions.
func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	email := strings.TrimSpace(vars["email"])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[email] == nil {
		s.auditFailLocked(w, r, p, http.StatusNotFound, "user.sessions.list", email, "user not found", nil)
		return
	}
	list := []sessionView{}
	for _, sess := range s.userSessionsLocked(email) {
		list = append(list, viewSession(sess))
	}
	s.auditOKLocked(w, r, p, http.StatusOK, list, "user.sessions.list", email, map[string]any{"session_count": len(list)})
}

// handleRevokeSession is POST /api/v1/users/{email}/sessions/{id}/revoke:
// that session's token fails from its next request on. A session of
// another user, named through this one, is not found.
func (s *Server) handleRevokeSession(w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	email := strings.TrimSpace(vars["email"])
	raw := strings.TrimSpace(vars["sessionID"])
	const action = "user.sessions.revoke"
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		s.auditFailLocked(w, r, p, http.StatusBadRequest, action, email, "invalid session id", map[string]any{"session_id": raw})
		return
	}
	if s.users[email] == nil {
		s.auditFailLocked(w, r, p, http.StatusNotFound, action, email, "user not found", map[string]any{"session_id": id})
		return
	}
	var target *session
	for _, sess := range s.sessions {
		if sess.id == id {
			target = sess
		}
	}
	if target == nil || target.userEmail != email {
		s.auditFailLocked(w, r, p, http.StatusNotFound, action, email, "session not found", map[string]any{"session_id": id})
		return
	}
	revoked := target.revokedAt == nil
	s.revokeLocked(target)
	s.auditOKLocked(w, r, p, http.StatusOK, map[string]bool{"revoked": revoked}, action, email,
		map[string]any{"session_id": id, "revoked": revoked})
}

// handleRevokeAllSessions is POST /api/v1/users/{email}/sessions/revoke_all:
// every active session of the user, the caller's own included.
func (s *Server) handleRevokeAllSessions(w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	email := strings.TrimSpace(vars["email"])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[email] == nil {
		s.auditFailLocked(w, r, p, http.StatusNotFound, "user.sessions.revoke_all", email, "user not found", nil)
		return
	}
	n := s.revokeAllLocked(email)
	s.auditOKLocked(w, r, p, http.StatusOK, map[string]int64{"revoked_count": n}, "user.sessions.revoke_all", email,
		map[string]any{"revoked_count": n})
}

// revokeAllLocked revokes email's active sessions and returns how many.
func (s *Server) revokeAllLocked(email string) int64 {
	var n int64
	for _, sess := range s.userSessionsLocked(email) {
		s.revokeLocked(sess)
		n++
	}
	return n
}

// decodeBody reads a JSON request body into v, as gin's ShouldBindJSON
// does before its validation; the error text is encoding/json's.
func decodeBody(r *http.Request, v any) error {
	return json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(v)
}
