package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
)

// Deploy approvals (/api/v1/deploy-approval-requests) and the proxy's
// gating of API tokens that hold convox:deploy:deploy_with_approval.
// Native authorisation looks at the caller's user (a token's owner), as on
// the real server.

// deployApproval is the DeployApprovalRequest JSON object.
type deployApproval struct {
	PublicID                    string         `json:"public_id"`
	Message                     string         `json:"message"`
	Status                      string         `json:"status"`
	CreatedAt                   time.Time      `json:"created_at"`
	UpdatedAt                   time.Time      `json:"updated_at"`
	CreatedByEmail              *string        `json:"created_by_email,omitempty"`
	CreatedByName               *string        `json:"created_by_name,omitempty"`
	CreatedByAPITokenID         *string        `json:"created_by_api_token_id,omitempty"`
	CreatedByAPITokenName       *string        `json:"created_by_api_token_name,omitempty"`
	TargetAPITokenID            string         `json:"target_api_token_id"`
	TargetAPITokenName          *string        `json:"target_api_token_name,omitempty"`
	ApprovedByEmail             *string        `json:"approved_by_email,omitempty"`
	ApprovedByName              *string        `json:"approved_by_name,omitempty"`
	ApprovedAt                  *time.Time     `json:"approved_at,omitempty"`
	ApprovalExpiresAt           *time.Time     `json:"approval_expires_at,omitempty"`
	RejectedByEmail             *string        `json:"rejected_by_email,omitempty"`
	RejectedByName              *string        `json:"rejected_by_name,omitempty"`
	RejectedAt                  *time.Time     `json:"rejected_at,omitempty"`
	ApprovalNotes               *string        `json:"approval_notes,omitempty"`
	GitCommitHash               string         `json:"git_commit_hash"`
	GitBranch                   *string        `json:"git_branch,omitempty"`
	PRURL                       *string        `json:"pr_url,omitempty"`
	CIMetadata                  map[string]any `json:"ci_metadata,omitempty"`
	App                         string         `json:"app,omitempty"`
	ObjectURL                   string         `json:"object_url,omitempty"`
	BuildID                     string         `json:"build_id,omitempty"`
	ReleaseID                   string         `json:"release_id,omitempty"`
	ProcessIDs                  []string       `json:"process_ids,omitempty"`
	ExecCommands                []string       `json:"exec_commands,omitempty"`
	ReleaseCreatedAt            *time.Time     `json:"release_created_at,omitempty"`
	ReleasePromotedAt           *time.Time     `json:"release_promoted_at,omitempty"`
	ReleasePromotedByAPITokenID *string        `json:"release_promoted_by_api_token_id,omitempty"`

	createdBy   string // creator's e-mail (the token owner for token callers)
	targetOwner string // e-mail of the target token's owner
}

const permApprove = "gateway:deploy_approval_request:approve"

// refreshLocked turns an approval whose window has passed into "expired".
func (s *Server) refreshLocked(d *deployApproval) {
	if d.Status == "approved" && d.ApprovalExpiresAt != nil && s.now().After(*d.ApprovalExpiresAt) {
		d.Status, d.UpdatedAt = "expired", s.now().UTC()
	}
}

func (s *Server) approvalLocked(id string) *deployApproval {
	for _, d := range s.approvals {
		if d.PublicID == id {
			s.refreshLocked(d)
			return d
		}
	}
	return nil
}

// open is the only_open filter: pending, or approved and unexpired.
func (d *deployApproval) open() bool { return d.Status == "pending" || d.Status == "approved" }

// handleListApprovals is GET /api/v1/deploy-approval-requests. Listing is
// for approvers only, as on the real server.
func (s *Server) handleListApprovals(w http.ResponseWriter, r *http.Request, p *principal) {
	if !userCan(p.user, permApprove) {
		writeError(w, http.StatusForbidden, "insufficient permissions")
		return
	}
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 200 {
		limit = 200
	}
	offset, _ := strconv.Atoi(q.Get("offset"))
	s.mu.Lock()
	var out []deployApproval
	for i := len(s.approvals) - 1; i >= 0; i-- { // newest first
		d := s.approvals[i]
		s.refreshLocked(d)
		switch {
		case q.Get("status") != "" && d.Status != q.Get("status"),
			q.Get("only_open") == "true" && !d.open(),
			q.Get("git_branch") != "" && (d.GitBranch == nil || *d.GitBranch != q.Get("git_branch")),
			q.Get("git_commit") != "" && !strings.HasPrefix(d.GitCommitHash, q.Get("git_commit")),
			q.Get("app") != "" && d.App != q.Get("app"):
			continue
		}
		out = append(out, *d)
	}
	s.mu.Unlock()
	page := []deployApproval{}
	if offset >= 0 && offset < len(out) {
		page = out[offset:min(len(out), offset+limit)]
	}
	writeJSON(w, http.StatusOK, map[string]any{"deploy_approval_requests": page})
}

// handleGetApproval is GET /api/v1/deploy-approval-requests/{id}: visible
// to approvers, the creator and the owner of the target token.
func (s *Server) handleGetApproval(w http.ResponseWriter, _ *http.Request, p *principal, vars map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.approvalLocked(vars["id"])
	if d == nil {
		writeError(w, http.StatusNotFound, "deploy approval request not found")
		return
	}
	if !userCan(p.user, permApprove) && d.createdBy != p.user.email && d.targetOwner != p.user.email {
		writeError(w, http.StatusForbidden, "insufficient permissions")
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// handleCreateApproval is POST /api/v1/deploy-approval-requests (201).
func (s *Server) handleCreateApproval(w http.ResponseWriter, r *http.Request, p *principal) {
	var req struct {
		Message          string         `json:"message"`
		App              string         `json:"app"`
		GitCommitHash    string         `json:"git_commit_hash"`
		GitBranch        string         `json:"git_branch"`
		PRURL            string         `json:"pr_url"`
		CIMetadata       map[string]any `json:"ci_metadata"`
		TargetAPITokenID string         `json:"target_api_token_id"`
		TargetAPIToken   string         `json:"target_api_token"`
	}
	s.mu.Lock()
	enabled := s.approvalsEnabled
	s.mu.Unlock()
	if !enabled {
		writeError(w, http.StatusNotFound, "deploy approvals feature is disabled")
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid payload")
		return
	}
	if !userCan(p.user, "gateway:deploy_approval_request:create") {
		writeError(w, http.StatusForbidden, "you do not have permission to request a deploy approval")
		return
	}
	for _, c := range []struct{ v, msg string }{
		{req.Message, "message is required"}, {req.GitCommitHash, "git_commit_hash is required"}, {req.App, "app is required"},
	} {
		if strings.TrimSpace(c.v) == "" {
			writeError(w, http.StatusBadRequest, c.msg)
			return
		}
	}
	appExists := s.rack.HasApp(req.App) // asked before s.mu: the rack is never called under it
	s.mu.Lock()
	defer s.mu.Unlock()
	if !appExists {
		writeError(w, http.StatusNotFound, "app '"+req.App+"' not found")
		return
	}
	var target *apiToken
	switch {
	case req.TargetAPITokenID != "":
		target = s.tokenByPublicIDLocked(req.TargetAPITokenID)
	case req.TargetAPIToken != "":
		target = s.tokenByNameOrIDLocked(req.TargetAPIToken)
	case p.isAPIToken():
		target = p.token
	default:
		writeError(w, http.StatusBadRequest, "target_api_token_id or target_api_token is required")
		return
	}
	if target == nil {
		writeError(w, http.StatusNotFound, "api token not found")
		return
	}
	if target.ownerEmail != p.user.email && !userCan(p.user, permApprove) {
		writeError(w, http.StatusForbidden, "not authorized for target token")
		return
	}
	for _, d := range s.approvals {
		s.refreshLocked(d)
		if d.TargetAPITokenID == target.publicID && d.GitCommitHash == req.GitCommitHash && d.open() {
			writeJSON(w, http.StatusConflict, d)
			return
		}
	}
	now := s.now().UTC()
	d := &deployApproval{
		PublicID: uuid.NewString(), Message: req.Message, Status: "pending", CreatedAt: now, UpdatedAt: now,
		CreatedByEmail: strPtr(p.user.email), CreatedByName: strPtr(p.user.name),
		TargetAPITokenID: target.publicID, TargetAPITokenName: strPtr(target.name),
		GitCommitHash: req.GitCommitHash, CIMetadata: req.CIMetadata, App: req.App,
		createdBy: p.user.email, targetOwner: target.ownerEmail,
	}
	if p.isAPIToken() {
		d.CreatedByAPITokenID, d.CreatedByAPITokenName = strPtr(p.token.publicID), strPtr(p.token.name)
	}
	if req.GitBranch != "" {
		d.GitBranch = strPtr(req.GitBranch)
	}
	if req.PRURL != "" {
		d.PRURL = strPtr(req.PRURL)
	}
	s.approvals = append(s.approvals, d)
	writeJSON(w, http.StatusCreated, d)
}

// tokenByNameOrIDLocked resolves target_api_token: a name or numeric id.
func (s *Server) tokenByNameOrIDLocked(v string) *apiToken {
	for _, t := range s.apiTokens {
		if t.name == v || strconv.FormatInt(t.id, 10) == v {
			return t
		}
	}
	return nil
}

// decideApproval runs approve/reject/extend: permission, lookup, an
// optional {"notes"} body, then change (which answers the 404 text when
// the request is in the wrong state by returning it).
func (s *Server) decideApproval(w http.ResponseWriter, r *http.Request, p *principal, id string,
	change func(d *deployApproval, now time.Time, notes *string) (notFound string)) {
	if !userCan(p.user, permApprove) {
		writeError(w, http.StatusForbidden, "insufficient permissions")
		return
	}
	var body struct {
		Notes string `json:"notes"`
	}
	if raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20)); strings.TrimSpace(string(raw)) != "" {
		if err := json.Unmarshal(raw, &body); err != nil {
			writeError(w, http.StatusBadRequest, "invalid payload")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.approvalLocked(id)
	if d == nil {
		writeError(w, http.StatusNotFound, "deploy approval request not found")
		return
	}
	var notes *string
	if body.Notes != "" {
		notes = strPtr(body.Notes)
	}
	now := s.now().UTC()
	if msg := change(d, now, notes); msg != "" {
		writeError(w, http.StatusNotFound, msg)
		return
	}
	d.UpdatedAt = now
	writeJSON(w, http.StatusOK, d)
}

// handleApprove is POST …/{id}/approve ("always" MFA): pending only.
func (s *Server) handleApprove(w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	s.decideApproval(w, r, p, vars["id"], func(d *deployApproval, now time.Time, notes *string) string {
		if d.Status != "pending" {
			return "deploy approval request not found"
		}
		exp := now.Add(s.approvalWindow)
		d.Status, d.ApprovedAt, d.ApprovalExpiresAt = "approved", &now, &exp
		d.ApprovedByEmail, d.ApprovedByName, d.ApprovalNotes = strPtr(p.user.email), strPtr(p.user.name), notes
		return ""
	})
}

// handleReject is POST …/{id}/reject ("always" MFA): pending or approved.
func (s *Server) handleReject(w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	s.decideApproval(w, r, p, vars["id"], func(d *deployApproval, now time.Time, notes *string) string {
		if d.Status != "pending" && d.Status != "approved" {
			return "deploy approval request not found"
		}
		d.Status, d.RejectedAt = "rejected", &now
		d.RejectedByEmail, d.RejectedByName = strPtr(p.user.email), strPtr(p.user.name)
		if notes != nil {
			d.ApprovalNotes = notes
		}
		return ""
	})
}

// handleExtend is POST …/{id}/extend ("always" MFA): a new expiry for an
// approved request.
func (s *Server) handleExtend(w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	s.decideApproval(w, r, p, vars["id"], func(d *deployApproval, now time.Time, _ *string) string {
		if d.Status != "approved" {
			return "deploy approval request not found or not approved"
		}
		exp := now.Add(s.approvalWindow)
		d.ApprovalExpiresAt = &exp
		return ""
	})
}

// Gate kinds: which approval-gated action a proxy route is.
const (
	gateObject    = "object"
	gateBuild     = "build-create"
	gateBuildRead = "build-read"
	gateRelease   = "release-read"
	gatePromote   = "promote"
	gateRun       = "process-start"
	gateExec      = "exec"
	gateTerminate = "terminate"
)

// approvalGateKind maps a route to its gate, or "" when not gated.
func approvalGateKind(rt *proxyRoute) string {
	switch rt.methods[0] + " " + rt.pattern {
	case "POST /apps/{app}/objects/tmp/{name}":
		return gateObject
	case "POST /apps/{app}/builds", "POST /apps/{app}/builds/import":
		return gateBuild
	case "GET /apps/{app}/builds/{id}", "SOCKET /apps/{app}/builds/{id}/logs":
		return gateBuildRead
	case "GET /apps/{app}/releases/{id}":
		return gateRelease
	case "POST /apps/{app}/releases/{id}/promote":
		return gatePromote
	case "POST /apps/{app}/services/{service}/processes":
		return gateRun
	case "SOCKET /apps/{app}/processes/{pid}/exec":
		return gateExec
	case "DELETE /apps/{app}/processes/{pid}":
		return gateTerminate
	}
	return ""
}

// gateApproval decides a gated action for a deploy_with_approval token
// lacking the route's own permission. On success p.approval is the
// request the rack's answer is recorded into (nil when approvals are
// disabled); otherwise the refusal has been written.
func (s *Server) gateApproval(w http.ResponseWriter, r *http.Request, p *principal, rt *proxyRoute, kind string, vars map[string]string) bool {
	sha := ""
	if kind == gateBuild {
		// The body stays whole for the rack; a parse error leaves sha empty.
		form, _ := peekForm(r, (*http.Request).ParseForm)
		sha = form.Form.Get("git-sha")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.approvalsEnabled {
		return true
	}
	deny := func() bool { writeText(w, http.StatusForbidden, permissionDeniedText(rt.permission)); return false }
	app := s.settingsLocked(vars["app"])
	var approved, deployed []*deployApproval
	for _, d := range s.approvals {
		s.refreshLocked(d)
		if d.TargetAPITokenID != p.token.publicID || d.App != vars["app"] {
			continue
		}
		switch d.Status {
		case "approved":
			approved = append(approved, d)
		case "deployed":
			deployed = append(deployed, d)
		}
	}
	pick := func(list []*deployApproval, match func(*deployApproval) bool) *deployApproval {
		for _, d := range list {
			if match(d) {
				return d
			}
		}
		return nil
	}
	var d *deployApproval
	switch kind {
	case gateObject:
		if d = pick(approved, func(d *deployApproval) bool { return d.ObjectURL == "" }); d == nil && len(approved) > 0 {
			writeText(w, http.StatusConflict, "an archive has already been uploaded for this deploy approval request")
			return false
		}
	case gateBuild:
		matches := func(d *deployApproval) bool { return sha != "" && strings.HasPrefix(d.GitCommitHash, sha) }
		if d = pick(approved, func(d *deployApproval) bool { return matches(d) && d.BuildID == "" }); d == nil {
			if pick(approved, matches) != nil {
				writeText(w, http.StatusConflict, "a build has already been created for this deploy approval request")
			} else {
				writeError(w, http.StatusInternalServerError, "deployment approval required for git commit "+sha)
			}
			return false
		}
	case gateBuildRead:
		id := strings.TrimSuffix(vars["id"], ".tgz")
		d = pick(approved, func(d *deployApproval) bool { return d.BuildID == id })
	case gateRelease:
		d = pick(approved, func(d *deployApproval) bool { return d.ReleaseID == vars["id"] })
	case gatePromote:
		if pick(deployed, func(d *deployApproval) bool { return d.ReleaseID == vars["id"] }) != nil {
			writeText(w, http.StatusConflict, "this deploy approval request has already been deployed")
			return false
		}
		d = pick(approved, func(d *deployApproval) bool { return d.ReleaseID == vars["id"] })
	case gateRun:
		rel := r.Header.Get("Release")
		if d = pick(approved, func(d *deployApproval) bool { return rel != "" && d.ReleaseID == rel }); d != nil {
			if cmd := r.Header.Get("Command"); cmd != "sleep 3600" && !app.commandApproved(cmd) {
				writeError(w, http.StatusInternalServerError, "command not approved: "+cmd)
				return false
			}
		}
	case gateExec, gateTerminate:
		d = pick(approved, func(d *deployApproval) bool { return containsString(d.ProcessIDs, vars["pid"]) })
		if d != nil && kind == gateExec {
			cmd := r.Header.Get("Command")
			if !app.commandApproved(cmd) {
				return deny()
			}
			d.ExecCommands = append(d.ExecCommands, cmd)
		}
	}
	if d == nil {
		return deny()
	}
	p.approval = d
	return true
}

// noteApproval records what a gated action did (object URL, build id,
// process id, promotion), as the rack's answer shows it, into the approval
// it ran under.
func (s *Server) noteApproval(p *principal, f func(*deployApproval)) {
	if p == nil || p.approval == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f(p.approval)
	p.approval.UpdatedAt = s.now().UTC()
}

// buildCompleted is the rack's OnBuildComplete: an approval whose build
// produced a release records it. The rack completes builds on its own
// schedule (a poll, the end of the log stream), whoever asked, so this
// cannot be read off one forwarded answer.
func (s *Server) buildCompleted(c convoxfake.BuildCompletion) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := c.At
	for _, d := range s.approvals {
		if d.BuildID == c.Build && d.ReleaseID == "" {
			d.ReleaseID, d.ReleaseCreatedAt, d.UpdatedAt = c.Release, &at, at
		}
	}
}

// ConfigureDeployApprovals sets deploy_approvals_enabled and the approval
// window (≤ 0 means the default 15 minutes).
func (s *Server) ConfigureDeployApprovals(enabled bool, window time.Duration) {
	if window <= 0 {
		window = 15 * time.Minute
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.approvalsEnabled, s.approvalWindow = enabled, window
}
