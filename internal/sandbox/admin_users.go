package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The users routes (docs/gateway-protocol.md, "Sessions and
// administration"). Bodies, status codes and error texts are the real
// handlers'.

// userView is the real db.User as the users routes answer it.
type userView struct {
	ID                 int64      `json:"id"`
	Email              string     `json:"email"`
	Name               string     `json:"name"`
	Roles              []string   `json:"roles"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
	Suspended          bool       `json:"suspended"`
	MFAEnrolled        bool       `json:"mfa_enrolled"`
	PreferredMFAMethod *string    `json:"preferred_mfa_method,omitempty"`
	LockedAt           *time.Time `json:"locked_at,omitempty"`
	LockedReason       string     `json:"locked_reason,omitempty"`
	LockedByUserID     *int64     `json:"locked_by_user_id,omitempty"`
	LockedByEmail      string     `json:"locked_by_email,omitempty"`
	LockedByName       string     `json:"locked_by_name,omitempty"`
	CreatedByUserID    *int64     `json:"created_by_user_id,omitempty"`
	CreatedByEmail     string     `json:"created_by_email,omitempty"`
	CreatedByName      string     `json:"created_by_name,omitempty"`
}

// userSummary is the real UserSummary, the answer of create and update.
type userSummary struct {
	Email          string   `json:"email"`
	Name           string   `json:"name"`
	Roles          []string `json:"roles"`
	CreatedByEmail string   `json:"created_by_email,omitempty"`
}

// userViewLocked describes u; full adds what only user administrators
// see (the lock's reason and author, the MFA preference).
func (s *Server) userViewLocked(u *userRecord, full bool) userView {
	a := s.adminLocked()
	created := u.enrolledAt
	if t, ok := a.createdAt[u.email]; ok {
		created = t
	}
	updated := created
	if t, ok := a.updatedAt[u.email]; ok {
		updated = t
	}
	v := userView{
		ID: u.id, Email: u.email, Name: u.name, Roles: append([]string{}, u.roles...),
		CreatedAt: created.UTC(), UpdatedAt: updated.UTC(),
		Suspended: u.suspended, MFAEnrolled: u.enrolled(), LockedAt: utcPtr(u.lockedAt),
	}
	if c := s.users[a.createdBy[u.email]]; c != nil {
		id := c.id
		v.CreatedByUserID, v.CreatedByEmail, v.CreatedByName = &id, c.email, c.name
	}
	if !full {
		return v
	}
	v.PreferredMFAMethod = u.preferredMethod
	if u.lockedAt != nil {
		v.LockedReason = u.lockReason
		if l := s.users[a.lockedBy[u.email]]; l != nil {
			id := l.id
			v.LockedByUserID, v.LockedByEmail, v.LockedByName = &id, l.email, l.name
		}
	}
	return v
}

// handleListUsers is GET /api/v1/users: everyone, by e-mail. Callers
// without gateway:user:read get the team directory, without lock reasons
// and MFA preferences.
func (s *Server) handleListUsers(w http.ResponseWriter, _ *http.Request, p *principal, _ map[string]string) {
	s.mu.Lock()
	full := userCan(p.user, permUserRead)
	emails := make([]string, 0, len(s.users))
	for e := range s.users {
		emails = append(emails, e)
	}
	sort.Strings(emails)
	out := make([]userView, 0, len(emails))
	for _, e := range emails {
		out = append(out, s.userViewLocked(s.users[e], full))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// handleGetUser is GET /api/v1/users/{email}.
func (s *Server) handleGetUser(w http.ResponseWriter, _ *http.Request, _ *principal, vars map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[strings.TrimSpace(vars["email"])]
	if u == nil {
		writeError(w, http.StatusNotFound, "user not found")
		return
	}
	writeJSON(w, http.StatusOK, s.userViewLocked(u, true))
}

// validRoles are the roles a person may be given; cicd is for tokens.
var validRoles = map[string]bool{"viewer": true, "ops": true, "deployer": true, "admin": true}

func validateRoles(roles []string) error {
	for _, r := range roles {
		if !validRoles[r] {
			return fmt.Errorf("invalid role: %s", r)
		}
	}
	return nil
}

// bindingError is the text gin's validator gives for a failed tag.
func bindingError(field, tag string) string {
	return fmt.Sprintf("Key: 'CreateUserRequest.%s' Error:Field validation for '%s' failed on the '%s' tag", field, field, tag)
}

// handleCreateUser is POST /api/v1/users (201). The user can then sign in
// through the mock IdP; they have no MFA method yet.
func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request, p *principal, _ map[string]string) {
	var req struct {
		Email string   `json:"email"`
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
	}
	const action = "user.create"
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := decodeBody(r, &req); err != nil {
		s.auditFailLocked(w, r, p, http.StatusBadRequest, action, req.Email, err.Error(), nil)
		return
	}
	var invalid []string
	if addr, err := mail.ParseAddress(req.Email); req.Email == "" {
		invalid = append(invalid, bindingError("Email", "required"))
	} else if err != nil || addr.Address != req.Email {
		invalid = append(invalid, bindingError("Email", "email"))
	}
	if req.Name == "" {
		invalid = append(invalid, bindingError("Name", "required"))
	}
	if req.Roles == nil {
		invalid = append(invalid, bindingError("Roles", "required"))
	} else if len(req.Roles) == 0 {
		invalid = append(invalid, bindingError("Roles", "min"))
	}
	if len(invalid) > 0 {
		s.auditFailLocked(w, r, p, http.StatusBadRequest, action, req.Email, strings.Join(invalid, "\n"), nil)
		return
	}
	if err := validateRoles(req.Roles); err != nil {
		s.auditFailLocked(w, r, p, http.StatusBadRequest, action, req.Email, err.Error(), nil)
		return
	}
	if s.users[req.Email] != nil {
		s.auditFailLocked(w, r, p, http.StatusConflict, action, req.Email, "user already exists", nil)
		return
	}
	u := &userRecord{email: req.Email, name: req.Name, roles: append([]string(nil), req.Roles...), mfaRequired: true}
	s.addUserLocked(u)
	if _, ok := s.idp[u.email]; !ok {
		s.idp[u.email] = idpIdentity{email: u.email, name: u.name}
	}
	a := s.adminLocked()
	a.createdAt[u.email], a.createdBy[u.email] = s.now(), p.user.email
	details := map[string]any{"email": req.Email, "roles": req.Roles, "name": req.Name}
	s.auditOKLocked(w, r, p, http.StatusCreated,
		userSummary{Email: u.email, Name: u.name, Roles: req.Roles, CreatedByEmail: p.user.email},
		action, strconv.FormatInt(u.id, 10), details)
}

// handleUpdateUser is PUT /api/v1/users/{email}: name, e-mail and roles,
// each optional. Nobody changes their own roles.
func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	email := strings.TrimSpace(vars["email"])
	var req struct {
		Name  *string          `json:"name"`
		Email *string          `json:"email"`
		Roles *json.RawMessage `json:"roles"`
	}
	const action = "user.update"
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(status int, msg string) { s.auditFailLocked(w, r, p, status, action, email, msg, nil) }
	if err := decodeBody(r, &req); err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	var roles []string
	if req.Roles != nil && string(*req.Roles) != "null" {
		if err := json.Unmarshal(*req.Roles, &roles); err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		if roles == nil {
			roles = []string{}
		}
	}
	if req.Email == nil && req.Name == nil && roles == nil {
		fail(http.StatusBadRequest, "no fields provided")
		return
	}
	u := s.users[email]
	if u == nil {
		fail(http.StatusNotFound, "user not found")
		return
	}
	newEmail := email
	if req.Email != nil {
		newEmail = strings.TrimSpace(*req.Email)
		switch {
		case newEmail == "":
			fail(http.StatusBadRequest, "email cannot be empty")
			return
		case !strings.EqualFold(newEmail, email) && s.users[newEmail] != nil:
			fail(http.StatusConflict, "email already in use")
			return
		}
	}
	switch {
	case roles == nil:
	case len(roles) == 0:
		fail(http.StatusBadRequest, "roles cannot be empty")
		return
	case newEmail == p.user.email:
		fail(http.StatusBadRequest, "cannot change your own roles")
		return
	default:
		if err := validateRoles(roles); err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
	}
	details := map[string]any{}
	if newEmail != email {
		s.renameUserLocked(u, newEmail)
		details["email"] = newEmail
	}
	if req.Name != nil && strings.TrimSpace(*req.Name) != "" {
		u.name = strings.TrimSpace(*req.Name)
	}
	details["name"] = u.name
	if roles != nil {
		u.roles = append([]string(nil), roles...)
		details["roles"] = roles
	}
	s.adminLocked().updatedAt[u.email] = s.now()
	s.auditOKLocked(w, r, p, http.StatusOK, userSummary{Email: u.email, Name: u.name, Roles: append([]string{}, u.roles...)},
		action, u.email, details)
}

// renameUserLocked moves u and everything that names it to a new e-mail.
func (s *Server) renameUserLocked(u *userRecord, to string) {
	from := u.email
	delete(s.users, from)
	u.email = to
	s.users[to] = u
	for _, sess := range s.sessions {
		if sess.userEmail == from {
			sess.userEmail = to
		}
	}
	for _, t := range s.apiTokens {
		if t.ownerEmail == from {
			t.ownerEmail = to
		}
		if t.createdBy == from {
			t.createdBy = to
		}
	}
	if id, ok := s.idp[from]; ok {
		delete(s.idp, from)
		id.email = to
		s.idp[to] = id
	}
	a := s.adminLocked()
	for _, m := range []map[string]string{a.createdBy, a.lockedBy} {
		if v, ok := m[from]; ok {
			delete(m, from)
			m[to] = v
		}
		for k, v := range m {
			if v == from {
				m[k] = to
			}
		}
	}
	if t, ok := a.createdAt[from]; ok {
		delete(a.createdAt, from)
		a.createdAt[to] = t
	}
}

// handleDeleteUser is DELETE /api/v1/users/{email} (204): the user and
// their sessions go; their API tokens stop working with them. An unknown
// e-mail is a 204 as well, as the real delete is a no-op then.
func (s *Server) handleDeleteUser(w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	email := vars["email"]
	s.mu.Lock()
	defer s.mu.Unlock()
	if email == p.user.email {
		s.auditFailLocked(w, r, p, http.StatusBadRequest, "user.delete", email, "cannot delete yourself", nil)
		return
	}
	if s.users[email] != nil {
		s.revokeAllLocked(email)
		delete(s.users, email)
	}
	s.auditOKLocked(w, r, p, http.StatusNoContent, nil, "user.delete", email, nil)
}

// handleLockUser is POST /api/v1/users/{email}/lock ({"reason"}): the
// account is locked and every session of it revoked.
func (s *Server) handleLockUser(w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	email := strings.TrimSpace(vars["email"])
	var req struct {
		Reason string `json:"reason"`
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := decodeBody(r, &req); err != nil || req.Reason == "" {
		s.auditFailLocked(w, r, p, http.StatusBadRequest, "user.lock", email, "invalid request", nil)
		return
	}
	u := s.users[email]
	if u == nil {
		s.auditFailLocked(w, r, p, http.StatusNotFound, "user.lock", email, "user not found", nil)
		return
	}
	now := s.now()
	u.lockedAt, u.lockReason = &now, req.Reason
	s.adminLocked().lockedBy[email] = p.user.email
	s.revokeAllLocked(email)
	s.auditOKLocked(w, r, p, http.StatusOK, map[string]string{"message": "user locked successfully"}, "user.lock", email,
		map[string]any{"reason": req.Reason, "locked_by": p.user.email, "target_user": email})
}

// handleUnlockUser is POST /api/v1/users/{email}/unlock. Unlike the
// sandbox's own unlock knob it keeps the MFA attempt rows, as the real
// one does: a failure soon after locks the account again.
func (s *Server) handleUnlockUser(w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	email := strings.TrimSpace(vars["email"])
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[email]
	if u == nil {
		s.auditFailLocked(w, r, p, http.StatusNotFound, "user.unlock", email, "user not found", nil)
		return
	}
	u.lockedAt, u.lockReason = nil, ""
	delete(s.adminLocked().lockedBy, email)
	s.auditOKLocked(w, r, p, http.StatusOK, map[string]string{"message": "user unlocked successfully"}, "user.unlock", email,
		map[string]any{"unlocked_by": p.user.email, "target_user": email})
}
