package sandbox

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/google/uuid"
)

// User is a seeded, MFA-enrolled gateway account as exposed to tests and to
// the `totp <email> <secret>` lines of the sandbox binary.
type User struct {
	Email string
	Name  string
	Role  string
	// TOTPSecret is the base32 RFC 6238 secret (SHA-1, 6 digits, 30 s).
	TOTPSecret string
}

// Identities the mock IdP knows besides the seeded users; see the package
// documentation for what each one is for.
const (
	OutsiderEmail   = "outsider@example.com"
	UnenrolledEmail = "unenrolled@example.com"
)

// seedUsers are fixed so `make demo` and e2e tests can precompute codes.
// The secrets are base32 of 20 ASCII bytes, the size real enrollment uses.
var seedUsers = []User{
	{Email: "admin@example.com", Name: "Sandbox Admin", Role: "admin", TOTPSecret: "ONQW4ZDCN54C2YLENVUW4LLUN52HAIJB"},
	{Email: "deployer@example.com", Name: "Sandbox Deployer", Role: "deployer", TOTPSecret: "ONQW4ZDCN54C2ZDFOBWG66LFOIWXI4BB"},
	{Email: "viewer@example.com", Name: "Sandbox Viewer", Role: "viewer", TOTPSecret: "ONQW4ZDCN54C25TJMV3WK4RNORXXI4BB"},
}

// userRecord is the gateway's row for a user plus the MFA bookkeeping the
// real server keeps in separate tables (attempts, consumed time steps).
type userRecord struct {
	id         int64
	email      string
	name       string
	roles      []string
	totpSecret string // empty when not enrolled
	enrolledAt time.Time
	lastUsedAt *time.Time
	// mfaRequired mirrors the default mfa_require_all_users=true setting.
	mfaRequired bool
	suspended   bool
	lockedAt    *time.Time
	lockReason  string

	attempts       []mfaAttempt
	consumedSteps  map[int64]bool // steps accepted once; reuse is a replay
	submittedSteps map[int64]bool // steps a client ever sent, for ReplayCount
	// stepHistory lists every consumed step in order. Unlike consumedSteps
	// it is never pruned, so /_sandbox/totp-steps can show a whole test run.
	stepHistory []int64
	replays     int // this user's share of Server.replayCount

	// Further MFA methods, in creation order after the TOTP one.
	totpMethodID      int64
	yubi              *yubiMethod
	webauthnCreds     []*webauthnCredential
	backupCodes       []*backupCode
	backupGeneratedAt *time.Time
	preferredMethod   *string // "totp" or "webauthn"; nil when unset
	// manage holds what MFA management added (mfa_manage.go).
	manage mfaManage
}

// enrolled reports whether the user has at least one confirmed method.
func (u *userRecord) enrolled() bool {
	return u.totpSecret != "" || u.yubi != nil || len(u.webauthnCreds) > 0
}

// session is a user_sessions row. Only the SHA-256 of the token is kept, like
// the real server, so a leaked store never yields usable credentials.
type session struct {
	id             int64
	tokenHash      string
	userEmail      string
	channel        string
	deviceID       string
	deviceName     string
	deviceOS       string
	clientVersion  string
	createdAt      time.Time
	lastSeenAt     time.Time
	expiresAt      time.Time
	ttl            time.Duration
	revokedAt      *time.Time
	mfaVerifiedAt  *time.Time
	recentStepUpAt *time.Time
	trustedDevice  bool
}

// apiToken is an api_tokens row; the secret itself is never stored.
type apiToken struct {
	id          int64
	publicID    string // UUID used in /api-tokens/{public_id}
	name        string
	tokenHash   string
	ownerEmail  string
	permissions []string
	createdAt   time.Time
	createdBy   string // creator's e-mail; empty for tokens minted by tests
	expiresAt   *time.Time
	lastUsedAt  *time.Time
}

// loginState is a cli_login_states row: created by /auth/cli/start and
// deleted by a successful /auth/cli/complete.
type loginState struct {
	codeVerifier  string
	code          string // set by the OAuth callback
	email         string // set once the code exchange succeeded
	name          string
	mfaVerifiedAt *time.Time
	loginError    *string
	// persisted: the MFA submit exchanged the code and stored the
	// identity, which the MFA form then uses instead of exchanging again,
	// as the real handler does. autoMFA is the code's sandbox knob.
	persisted bool
	autoMFA   bool
}

// oauthCode is an authorization code issued by the mock IdP.
type oauthCode struct {
	email         string
	autoMFA       bool
	codeChallenge string
	expiresAt     time.Time
}

// idpIdentity is what the mock IdP returns from a successful exchange.
type idpIdentity struct {
	email string
	name  string
}

const cliSessionTTL = 90 * 24 * time.Hour

// randomToken returns n random bytes as unpadded base64url, the encoding the
// real server uses for session tokens, login states and PKCE verifiers.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("sandbox: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(secret)))
	return hex.EncodeToString(sum[:])
}

// seed fills the store with the deterministic accounts. Caller holds s.mu.
func (s *Server) seed() {
	now := s.now()
	for _, su := range seedUsers {
		u := &userRecord{
			email:       su.Email,
			name:        su.Name,
			roles:       []string{su.Role},
			totpSecret:  su.TOTPSecret,
			enrolledAt:  now,
			mfaRequired: true,
		}
		s.addUserLocked(u)
		// Method rows in the order enrollment would create them: the
		// authenticator app, then the YubiKey, then the backup codes that
		// enrollment hands out.
		u.totpMethodID = s.newMethodIDLocked()
		u.yubi = &yubiMethod{methodID: s.newMethodIDLocked(), publicID: yubicoPublicID(u.email), createdAt: now, used: map[string]bool{}}
		s.seedBackupCodesLocked(u, now)
	}
	s.addUserLocked(&userRecord{
		email:       UnenrolledEmail,
		name:        "Sandbox Unenrolled",
		roles:       []string{"viewer"},
		mfaRequired: true,
	})
	for _, su := range seedUsers {
		s.idp[su.Email] = idpIdentity{email: su.Email, name: su.Name}
	}
	s.idp[UnenrolledEmail] = idpIdentity{email: UnenrolledEmail, name: "Sandbox Unenrolled"}
	s.idp[OutsiderEmail] = idpIdentity{email: OutsiderEmail, name: "Sandbox Outsider"}
}

func (s *Server) addUserLocked(u *userRecord) {
	s.nextUserID++
	u.id = s.nextUserID
	u.consumedSteps = map[int64]bool{}
	u.submittedSteps = map[int64]bool{}
	s.users[u.email] = u
}

// createSessionLocked stores a new session and returns its plaintext token,
// which exists only in the response to the client.
func (s *Server) createSessionLocked(u *userRecord, channel string, ttl time.Duration) (string, *session) {
	token := randomToken(32)
	now := s.now()
	s.nextSessionID++
	sess := &session{
		id:         s.nextSessionID,
		tokenHash:  hashSecret(token),
		userEmail:  u.email,
		channel:    channel,
		createdAt:  now,
		lastSeenAt: now,
		expiresAt:  now.Add(ttl),
		ttl:        ttl,
	}
	s.sessions[sess.tokenHash] = sess
	return token, sess
}

func (s *Server) newMethodIDLocked() int64 {
	s.nextMethodID++
	return s.nextMethodID
}

// IssueAPIToken mints an rgw_ API token owned by email without going
// through POST /api/v1/api-tokens (no MFA, no rate limit, no check that
// the name is unused). permissions defaults to convox:*:*.
func (s *Server) IssueAPIToken(email, name string, permissions ...string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[email]; !ok {
		return "", errUnknownUser
	}
	if len(permissions) == 0 {
		permissions = []string{"convox:*:*"}
	}
	token, _ := s.mintAPITokenLocked(email, name, permissions, "")
	return token, nil
}

// mintAPITokenLocked stores a new token row and returns the secret, which
// exists only in the response to the client.
func (s *Server) mintAPITokenLocked(owner, name string, permissions []string, createdBy string) (string, *apiToken) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("sandbox: crypto/rand failed: " + err.Error())
	}
	// Padded base64url: the real token is 48 chars ending in "=".
	token := "rgw_" + base64.URLEncoding.EncodeToString(b)
	s.nextTokenID++
	t := &apiToken{
		id:          s.nextTokenID,
		publicID:    uuid.NewString(),
		name:        name,
		tokenHash:   hashSecret(token),
		ownerEmail:  owner,
		permissions: append([]string(nil), permissions...),
		createdAt:   s.now(),
		createdBy:   createdBy,
	}
	s.apiTokens[t.tokenHash] = t
	return token, t
}

// Users returns the seeded MFA-enrolled users in a fixed order.
func (s *Server) Users() []User {
	return append([]User(nil), seedUsers...)
}
