package sandbox

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The audit log: what the administration handlers record, and
// GET /api/v1/audit-logs and …/export with the real server's filters
// (docs/gateway-protocol.md, "Sessions and administration"). The real
// server also records every proxied rack request and shows runs of equal
// events as one aggregated row; the sandbox records the administration
// actions only and each event is a row of its own (event_count 1).

// auditEvent is one audit_event row.
type auditEvent struct {
	id           int64
	at           time.Time
	userEmail    string
	userName     string
	actionType   string
	action       string
	resource     string
	resourceType string
	details      string
	ip           string
	userAgent    string
	status       string
	rbacDecision string
	httpStatus   int
}

// auditRow is the real AuditLogAggregated as the list answers it.
type auditRow struct {
	ID                int       `json:"id"`
	FirstEventID      int64     `json:"first_event_id"`
	LastEventID       int64     `json:"last_event_id"`
	FirstSeen         time.Time `json:"first_seen"`
	LastSeen          time.Time `json:"last_seen"`
	FirstHash         []byte    `json:"first_hash"`
	LastHash          []byte    `json:"last_hash"`
	EventCount        int       `json:"event_count"`
	MinResponseTimeMs int       `json:"min_response_time_ms"`
	MaxResponseTimeMs int       `json:"max_response_time_ms"`
	AvgResponseTimeMs int       `json:"avg_response_time_ms"`
	UserEmail         string    `json:"user_email"`
	UserName          string    `json:"user_name,omitempty"`
	ActionType        string    `json:"action_type"`
	Action            string    `json:"action"`
	Resource          string    `json:"resource,omitempty"`
	ResourceType      string    `json:"resource_type,omitempty"`
	Details           string    `json:"details,omitempty"`
	IPAddress         string    `json:"ip_address,omitempty"`
	UserAgent         string    `json:"user_agent,omitempty"`
	Status            string    `json:"status"`
	RBACDecision      string    `json:"rbac_decision,omitempty"`
	HTTPStatus        int       `json:"http_status,omitempty"`
}

func (e *auditEvent) row() auditRow {
	at := e.at.UTC()
	return auditRow{
		ID: int(e.id), FirstEventID: e.id, LastEventID: e.id, FirstSeen: at, LastSeen: at, EventCount: 1,
		UserEmail: e.userEmail, UserName: e.userName, ActionType: e.actionType, Action: e.action,
		Resource: e.resource, ResourceType: e.resourceType, Details: e.details, IPAddress: e.ip,
		UserAgent: e.userAgent, Status: e.status, RBACDecision: e.rbacDecision, HTTPStatus: e.httpStatus,
	}
}

// recordAuditLocked appends an event, typed by its action's prefix as the
// real admin handlers type theirs. audit.list is never recorded, so a
// client polling the log does not fill it.
func (s *Server) recordAuditLocked(r *http.Request, p *principal, action, resource, status string, httpStatus int, details map[string]any) {
	if action == "audit.list" {
		return
	}
	actionType, resourceType := "admin", "admin"
	switch {
	case strings.HasPrefix(action, "user."):
		actionType, resourceType = "users", "user"
	case strings.HasPrefix(action, "api_token."):
		actionType, resourceType = "tokens", "api_token"
	}
	e := &auditEvent{
		at: s.now(), userEmail: p.user.email, userName: p.user.name,
		actionType: actionType, action: action, resource: strings.TrimSpace(resource), resourceType: resourceType,
		ip: clientIP(r), userAgent: r.Header.Get("User-Agent"), status: status, httpStatus: httpStatus,
	}
	if len(details) > 0 {
		if b, err := json.Marshal(details); err == nil {
			e.details = string(b)
		}
	}
	switch status {
	case "success":
		e.rbacDecision = "allow"
	case "denied":
		e.rbacDecision = "deny"
	}
	a := s.adminLocked()
	a.nextAudit++
	e.id = a.nextAudit
	a.audit = append(a.audit, e)
}

// auditOKLocked answers a success (payload nil: no body) and records it.
func (s *Server) auditOKLocked(w http.ResponseWriter, r *http.Request, p *principal, status int, payload any, action, resource string, details map[string]any) {
	if payload == nil {
		w.WriteHeader(status)
	} else {
		writeJSON(w, status, payload)
	}
	s.recordAuditLocked(r, p, action, resource, "success", status, details)
}

// auditFailLocked answers {"error": msg} and records it, as "denied" for
// 401 and 403 and "error" otherwise, with the message in the details.
func (s *Server) auditFailLocked(w http.ResponseWriter, r *http.Request, p *principal, status int, action, resource, msg string, details map[string]any) {
	writeError(w, status, msg)
	det := map[string]any{}
	for k, v := range details {
		det[k] = v
	}
	det["error"] = msg
	st := "error"
	if status == http.StatusForbidden || status == http.StatusUnauthorized {
		st = "denied"
	}
	s.recordAuditLocked(r, p, action, resource, st, status, det)
}

// auditFilters are the list's query parameters.
type auditFilters struct {
	user, status, actionType, resourceType, search string
	since, until                                   time.Time
	page, limit                                    int
}

var (
	errAuditStart = errors.New("invalid start time")
	errAuditEnd   = errors.New("invalid end time")
	errAuditRange = errors.New("end time must be after start time")
)

// parseAuditTime reads start and end: RFC 3339 (with or without
// fractional seconds) or a plain date.
func parseAuditTime(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("bad time")
}

// auditFiltersFrom reads the real handler's parameters: page (1), limit
// (100), user or user_id, status, action_type, resource_type, search, and
// the window: start/end, else range (15m, 1h, 24h, 7d, 30d, all, custom;
// default and fallback 24h).
func (s *Server) auditFiltersFrom(r *http.Request) (auditFilters, error) {
	q := r.URL.Query()
	f := auditFilters{page: 1, limit: 100, status: q.Get("status"), actionType: q.Get("action_type"),
		resourceType: q.Get("resource_type"), search: q.Get("search"), user: q.Get("user")}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n >= 1 {
		f.page = n
	}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		f.limit = n
	}
	if f.user == "" && q.Get("user_id") != "" {
		if id, err := strconv.ParseInt(q.Get("user_id"), 10, 64); err == nil {
			f.user = "__missing_user_" + strings.TrimSpace(q.Get("user_id")) + "__"
			s.mu.Lock()
			for _, u := range s.users {
				if u.id == id {
					f.user = u.email
				}
			}
			s.mu.Unlock()
		}
	}
	var err error
	if v := q.Get("start"); strings.TrimSpace(v) != "" {
		if f.since, err = parseAuditTime(v); err != nil {
			return f, errAuditStart
		}
	}
	if v := q.Get("end"); strings.TrimSpace(v) != "" {
		if f.until, err = parseAuditTime(v); err != nil {
			return f, errAuditEnd
		}
	}
	if !f.since.IsZero() && !f.until.IsZero() && f.until.Before(f.since) {
		return f, errAuditRange
	}
	if f.since.IsZero() {
		rng := strings.TrimSpace(q.Get("range"))
		if _, given := q["range"]; !given {
			rng = "24h"
		}
		spans := map[string]time.Duration{"15m": 15 * time.Minute, "1h": time.Hour, "24h": 24 * time.Hour,
			"7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}
		switch d, ok := spans[rng]; {
		case ok:
			f.since = s.now().Add(-d)
		case rng == "all" || rng == "custom":
		default:
			f.since = s.now().Add(-24 * time.Hour)
		}
	}
	return f, nil
}

func (f auditFilters) match(e *auditEvent) bool {
	set := func(v string) bool { return v != "" && v != "all" }
	switch {
	case f.user != "" && e.userEmail != f.user,
		set(f.status) && e.status != f.status,
		set(f.actionType) && e.actionType != f.actionType,
		set(f.resourceType) && e.resourceType != f.resourceType,
		!f.since.IsZero() && e.at.Before(f.since),
		!f.until.IsZero() && e.at.After(f.until):
		return false
	}
	if f.search == "" {
		return true
	}
	needle := strings.ToLower(f.search)
	for _, v := range []string{e.userEmail, e.userName, e.action, e.resource, e.details, e.userAgent} {
		if strings.Contains(strings.ToLower(v), needle) {
			return true
		}
	}
	return strings.Contains(e.ip, f.search)
}

// auditQuery returns the matching rows, newest first, and their total.
func (s *Server) auditQuery(f auditFilters, limit, offset int) ([]auditRow, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var hits []*auditEvent
	for _, e := range s.adminLocked().audit {
		if f.match(e) {
			hits = append(hits, e)
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if !hits[i].at.Equal(hits[j].at) {
			return hits[i].at.After(hits[j].at)
		}
		return hits[i].id > hits[j].id
	})
	rows := []auditRow{}
	for i := offset; i < len(hits) && i < offset+limit; i++ {
		rows = append(rows, hits[i].row())
	}
	return rows, len(hits)
}

// writeAuditFilterError answers a bad start/end as the real handler does.
func (s *Server) writeAuditFilterError(w http.ResponseWriter, r *http.Request, p *principal, action string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auditFailLocked(w, r, p, http.StatusBadRequest, action, "", err.Error(), nil)
}

// handleListAuditLogs is GET /api/v1/audit-logs.
func (s *Server) handleListAuditLogs(w http.ResponseWriter, r *http.Request, p *principal, _ map[string]string) {
	f, err := s.auditFiltersFrom(r)
	if err != nil {
		s.writeAuditFilterError(w, r, p, "audit.list", err)
		return
	}
	rows, total := s.auditQuery(f, f.limit, (f.page-1)*f.limit)
	writeJSON(w, http.StatusOK, map[string]any{"logs": rows, "total": total, "page": f.page, "limit": f.limit})
}

// handleExportAuditLogs is GET /api/v1/audit-logs/export: the same rows
// as CSV, from the first page, at most limit of them (10000 when the
// limit is out of range).
func (s *Server) handleExportAuditLogs(w http.ResponseWriter, r *http.Request, p *principal, _ map[string]string) {
	f, err := s.auditFiltersFrom(r)
	if err != nil {
		s.writeAuditFilterError(w, r, p, "audit.export", err)
		return
	}
	if f.limit <= 0 || f.limit > 10000 {
		f.limit = 10000
	}
	rows, _ := s.auditQuery(f, f.limit, 0)
	w.Header().Set("Content-Type", "text/csv")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"audit-logs-%s.csv\"", s.now().Format("2006-01-02")))
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	_ = cw.Write(auditCSVHeader)
	events := 0
	for _, row := range rows {
		events += row.EventCount
		_ = cw.Write([]string{
			row.FirstSeen.Format(time.RFC3339), row.LastSeen.Format(time.RFC3339), row.UserEmail, row.UserName,
			row.ActionType, row.Action, "", row.Resource, row.Status, strconv.Itoa(row.EventCount),
			strconv.Itoa(row.MinResponseTimeMs), strconv.Itoa(row.MaxResponseTimeMs), strconv.Itoa(row.AvgResponseTimeMs),
			row.IPAddress, row.UserAgent,
		})
	}
	cw.Flush()
	s.mu.Lock()
	s.recordAuditLocked(r, p, "audit.export", "", "success", http.StatusOK, map[string]any{"count": len(rows), "events": events})
	s.mu.Unlock()
}

// auditCSVHeader is the header row of the real audit export.
var auditCSVHeader = []string{
	"first_seen", "last_seen", "user_email", "user_name", "action_type", "action",
	"command", "resource", "status", "event_count",
	"min_response_ms", "max_response_ms", "avg_response_ms", "ip_address", "user_agent",
}
