package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
)

// Config tunes a sandbox Server. The zero value gives the real server's
// defaults.
type Config struct {
	// StepUpWindow is mfa_step_up_window_minutes; ≤ 0 means 10 minutes.
	StepUpWindow time.Duration
	// RateLimitRPS and RateLimitBurst size every token bucket; ≤ 0 means
	// the real defaults of 10 req/s and a burst of 20.
	RateLimitRPS   float64
	RateLimitBurst int
	// Domain is the server's DOMAIN: the one host the host check accepts
	// besides localhost, 127.0.0.1 and empty. Default "localhost".
	Domain string
	// WebAuthnRPID is WEBAUTHN_RP_ID. Default: Domain, or "localhost" when
	// Domain is an IP address, because an RP ID must be a domain (browsers
	// and go-webauthn reject IPs).
	WebAuthnRPID string
	// WebAuthnOrigin is WEBAUTHN_ORIGIN, the single origin clientDataJSON
	// must carry (scheme, host and port compared). Empty means "the origin
	// this request reached the sandbox on", which suits httptest servers
	// whose port is unknown when New runs; Main sets it to the url= it
	// prints.
	WebAuthnOrigin string
	// Now is the clock; nil means time.Now. Tests inject one so TOTP steps,
	// windows and buckets are deterministic.
	Now func() time.Time
	// Logger receives one line per request (method, path without query,
	// status) and never credentials. Nil discards.
	Logger *log.Logger
}

// Server is the fake gateway. All gateway state is in memory behind one
// mutex, the rack's behind its own: the sandbox favours obviously-correct
// serialisation over throughput.
type Server struct {
	cfg    Config
	window time.Duration
	logger *log.Logger

	limiters map[string]*rateLimiter // bucket name → per-IP limiter

	mu            sync.Mutex
	users         map[string]*userRecord
	idp           map[string]idpIdentity
	sessions      map[string]*session // by token hash
	apiTokens     map[string]*apiToken
	logins        map[string]*loginState // by state
	codes         map[string]*oauthCode
	counts        map[string]int
	replayCount   int
	nextUserID    int64
	nextSessionID int64
	nextTokenID   int64
	nextMethodID  int64
	approvals     []*deployApproval       // deploy approval requests, creation order
	faults        []*Fault                // armed injected faults, oldest first
	appSettings   map[string]*appSettings // by app name; see appsettings.go
	admin         adminState              // users, roles, audit log; see admin.go

	// Deploy-approval settings: deploy_approvals_enabled and
	// deploy_approval_window_minutes.
	approvalsEnabled bool
	approvalWindow   time.Duration
	// allowDestructive is the allow_destructive_actions setting.
	allowDestructive bool

	// rack is the Convox rack the proxy forwards to. It has its own lock;
	// the gateway never calls it while holding mu, so the two locks are
	// never nested.
	rack *convoxfake.Rack

	rpID             string // WebAuthn relying-party ID
	backupCodeSecret []byte // HMAC key for stored backup-code hashes

	routes  map[string]http.HandlerFunc
	handler http.Handler
}

var errUnknownUser = errors.New("unknown user")

// New returns a seeded sandbox server.
func New(cfg Config) *Server {
	if cfg.StepUpWindow <= 0 {
		cfg.StepUpWindow = 10 * time.Minute
	}
	if cfg.RateLimitRPS <= 0 {
		cfg.RateLimitRPS = 10
	}
	if cfg.RateLimitBurst <= 0 {
		cfg.RateLimitBurst = 20
	}
	if strings.TrimSpace(cfg.Domain) == "" {
		cfg.Domain = "localhost"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	s := &Server{
		cfg:       cfg,
		window:    cfg.StepUpWindow,
		logger:    logger,
		users:     map[string]*userRecord{},
		idp:       map[string]idpIdentity{},
		sessions:  map[string]*session{},
		apiTokens: map[string]*apiToken{},
		logins:    map[string]*loginState{},
		codes:     map[string]*oauthCode{},
		counts:    map[string]int{},

		approvalsEnabled: true,
		approvalWindow:   15 * time.Minute,
		rpID:             defaultRPID(cfg),
		// Fixed rather than random: the codes themselves are derived
		// deterministically, so nothing here needs to be secret.
		backupCodeSecret: []byte("rack-gateway-sandbox backup-code hmac"),
	}
	s.limiters = map[string]*rateLimiter{
		bucketAuth:        newRateLimiter(cfg.RateLimitRPS, cfg.RateLimitBurst, s.now),
		bucketMFA:         newRateLimiter(cfg.RateLimitRPS, cfg.RateLimitBurst, s.now),
		bucketTokenCreate: newRateLimiter(cfg.RateLimitRPS, cfg.RateLimitBurst, s.now),
	}
	s.rack = convoxfake.New(convoxfake.Config{
		Now:             s.now,
		CheckOrigin:     s.websocketOriginAllowed,
		OnBuildComplete: s.buildCompleted,
	})
	s.mu.Lock()
	s.seed()
	s.seedAppSettings()
	s.mu.Unlock()
	s.routes = s.nativeRoutes()
	s.addMFAManageRoutes(s.routes)
	s.handler = s.transport(http.HandlerFunc(s.route))
	return s
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// Handler returns the sandbox's HTTP handler.
func (s *Server) Handler() http.Handler { return s }

// Rack returns the in-memory Convox rack behind the proxy, for its typed
// knobs (DropNextWebSocket) and for tests that look at the rack directly.
func (s *Server) Rack() *convoxfake.Rack { return s.rack }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	gateway := !strings.HasPrefix(r.URL.Path, introspectPrefix)
	if gateway {
		s.mu.Lock()
		s.counts[r.Method+" "+r.URL.Path]++
		s.mu.Unlock()
	}
	// Like gin's request-id middleware: propagate the caller's or mint one.
	reqID := r.Header.Get("X-Request-ID")
	if reqID == "" {
		reqID = uuid.NewString()
	}
	w.Header().Set("X-Request-ID", reqID)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	// Faults stand in for what sits in front of the gateway, so they wrap
	// everything, transport checks and rate limits included.
	if gateway {
		if f := s.takeFault(r); f != nil {
			s.serveFault(w, rec, r, f)
			return
		}
	}
	s.handler.ServeHTTP(rec, r)
	// Path only: query strings carry OAuth states and codes.
	s.logger.Printf("%s %s %d", r.Method, r.URL.Path, rec.status)
}

// RequestCount reports how many requests with this method and URL path the
// server has received (introspection requests excluded).
func (s *Server) RequestCount(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[method+" "+path]
}

// ReplayCount reports how many times a client submitted, for some user, a
// TOTP code whose time step it had already submitted before — whether or not
// the server then evaluated it. Well-behaved clients keep this at zero.
func (s *Server) ReplayCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replayCount
}

// StepUpWindow returns the current mfa_step_up_window_minutes value.
func (s *Server) StepUpWindow() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.window
}

// SetStepUpWindow changes the step-up window at runtime, as
// PUT /api/v1/settings/mfa-configuration would, and returns the value in
// effect (≤ 0 falls back to 10 minutes, like the real setting).
//
// The real native middleware keeps the value it loaded at startup while
// the rack proxy re-reads the setting on every request
// (docs/gateway-protocol.md, "MFA levels"). The sandbox applies the
// change to both at once, so a test changing the window sees one
// consistent value; only the ≤ (native) versus < (proxy) comparison
// differs.
func (s *Server) SetStepUpWindow(d time.Duration) time.Duration {
	if d <= 0 {
		d = 10 * time.Minute
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.window = d
	return d
}

// Unlock clears a user's MFA lock, as an admin's unlock would, and also
// forgets the user's recent MFA attempts so a test can continue at once.
// That second part is sandbox-only: the real unlock keeps the attempt rows,
// so there a failure soon after an unlock finds the old failures still in
// the window and locks again. Sessions revoked by the lock stay revoked, as
// on the real server.
func (s *Server) Unlock(email string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[email]
	if !ok {
		return errUnknownUser
	}
	u.lockedAt = nil
	u.lockReason = ""
	u.attempts = nil
	return nil
}

// route dispatches by exact "METHOD path" like gin's router: a wrong method
// is a plain 404, never a 405.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == proxyPrefix || strings.HasPrefix(path, proxyPrefix+"/"):
		s.serveProxy(w, r)
		return
	case strings.HasPrefix(path, introspectPrefix):
		s.serveIntrospection(w, r)
		return
	case r.Method == http.MethodGet && (path == "/" || path == "/app" || path == "/app/"):
		http.Redirect(w, r, "/app/rack", http.StatusTemporaryRedirect)
		return
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/app/"):
		s.serveAppPage(w, r)
		return
	}
	if h, ok := s.routes[r.Method+" "+path]; ok {
		h(w, r)
		return
	}
	// Parameterised routes come after the exact ones so that, as in gin,
	// GET /api-tokens/permissions is not taken for a token id.
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	routes := append(append(s.nativePatternRoutes(), s.mfaManagePatternRoutes()...), s.adminPatternRoutes()...)
	for _, rt := range routes {
		if rt.method != r.Method {
			continue
		}
		if vars, ok := convoxfake.MatchPattern(rt.pattern, segs); ok {
			s.native(rt.level, rt.bucket, func(w http.ResponseWriter, r *http.Request, p *principal) {
				rt.handler(w, r, p, vars)
			})(w, r)
			return
		}
	}
	notFound(w)
}

// nativePatternRoute is a native route with {name} path parameters.
type nativePatternRoute struct {
	method, pattern string
	level           mfaLevel
	bucket          string
	handler         func(http.ResponseWriter, *http.Request, *principal, map[string]string)
}

// nativePatternRoutes lists the parameterised native routes with their
// MFA levels (docs/gateway-protocol.md, "MFA levels").
func (s *Server) nativePatternRoutes() []nativePatternRoute {
	return []nativePatternRoute{
		{http.MethodGet, "/api/v1/apps/{app}/env", mfaNone, "", s.handleGetEnv},
		{http.MethodPut, "/api/v1/apps/{app}/env", mfaStepUp, "", s.handlePutEnv},
		{http.MethodGet, "/api/v1/api-tokens/{id}", mfaNone, "", s.handleGetAPIToken},
		{http.MethodPut, "/api/v1/api-tokens/{id}", mfaAlways, "", s.handleUpdateAPIToken},
		{http.MethodDelete, "/api/v1/api-tokens/{id}", mfaAlways, "", s.handleDeleteAPIToken},
		{http.MethodGet, "/api/v1/deploy-approval-requests/{id}", mfaNone, "", s.handleGetApproval},
		{http.MethodPost, "/api/v1/deploy-approval-requests/{id}/approve", mfaAlways, "", s.handleApprove},
		{http.MethodPost, "/api/v1/deploy-approval-requests/{id}/reject", mfaAlways, "", s.handleReject},
		{http.MethodPost, "/api/v1/deploy-approval-requests/{id}/extend", mfaAlways, "", s.handleExtend},
	}
}

// nativeRoutes is the gateway-native route table. Authenticated routes are
// wrapped with their MFA level so later routes only need a table entry.
func (s *Server) nativeRoutes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"GET /api/v1/health":             s.handleHealth,
		"GET /oauth/authorize":           s.handleAuthorize,
		"POST /api/v1/auth/cli/start":    s.limited(bucketAuth, s.handleCLIStart),
		"GET /api/v1/auth/cli/callback":  s.limited(bucketAuth, s.handleCLICallback),
		"GET /api/v1/auth/cli/mfa":       s.limited(bucketAuth, s.handleCLIMFAForm),
		"POST /api/v1/auth/cli/mfa":      s.limited(bucketAuth, s.handleCLIMFASubmit),
		"POST /api/v1/auth/cli/complete": s.limited(bucketAuth, s.handleCLIComplete),
		"GET /api/v1/auth/web/logout":    s.limited(bucketAuth, s.handleLogout),
		"GET /api/v1/info":               s.native(mfaNone, "", s.handleInfo),
		"GET /api/v1/auth/mfa/status":    s.native(mfaNone, bucketMFA, s.handleMFAStatus),
		"POST /api/v1/auth/mfa/verify":   s.native(mfaNone, bucketMFA, s.handleMFAVerify),

		"POST /api/v1/auth/mfa/webauthn/assertion/start":  s.native(mfaNone, bucketMFA, s.handleWebAuthnStart),
		"POST /api/v1/auth/mfa/webauthn/assertion/verify": s.native(mfaNone, bucketMFA, s.handleWebAuthnVerify),
		"PUT /api/v1/auth/mfa/preferred-method":           s.native(mfaStepUp, bucketMFA, s.handlePreferredMethod),

		"GET /api/v1/api-tokens":             s.native(mfaNone, "", s.handleListAPITokens),
		"POST /api/v1/api-tokens":            s.native(mfaAlways, bucketTokenCreate, s.handleCreateAPIToken),
		"GET /api/v1/api-tokens/permissions": s.native(mfaNone, "", s.handleTokenPermissions),

		"GET /api/v1/deploy-approval-requests":  s.native(mfaNone, "", s.handleListApprovals),
		"POST /api/v1/deploy-approval-requests": s.native(mfaNone, "", s.handleCreateApproval),
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack lets gorilla/websocket take the connection (it asserts
// http.Hijacker directly); the request is logged as 101.
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("sandbox: connection cannot be hijacked")
	}
	r.status = http.StatusSwitchingProtocols
	return h.Hijack()
}

// sleepContext waits d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// writeJSON mirrors gin's c.JSON: compact json.Marshal output (HTML-escaped)
// with the same Content-Type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// writeText mirrors gin's c.String.
func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}

// notFound is gin's default 404 body.
func notFound(w http.ResponseWriter) {
	writeText(w, http.StatusNotFound, "404 page not found")
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "service": "rack-gateway"})
}
