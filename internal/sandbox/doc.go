// Package sandbox is an in-process fake of the DocSpring rack-gateway server.
//
// It exists so end-to-end tests and `make demo` can drive the real CLI and
// agent against something that speaks the gateway's wire contract
// (shared/gateway-api.md) without Google OAuth, Postgres or a Convox rack.
// Status codes, JSON/text bodies and headers follow that document; where the
// sandbox has to simplify, the difference is listed below.
//
// # What it serves
//
//   - Transport rules (§1): host check, Origin check and the three
//     independent per-IP token buckets (auth, mfa, token-create).
//   - Credentials (§2): Bearer and Basic, rgw_ API tokens, the
//     token.type.value inline MFA suffix, X-Mfa-Totp / X-MFA-WebAuthn
//     headers and the native (JSON) and proxy (text) 401 forms.
//   - The CLI login (§3) with a mock OAuth provider hosted by the sandbox
//     itself at /oauth/authorize, plus the /app/... browser pages as tiny
//     HTML stubs.
//   - GET /api/v1/health, /api/v1/info, /api/v1/auth/mfa/status,
//     POST /api/v1/auth/mfa/verify and GET /api/v1/auth/web/logout.
//   - TOTP verification (§4.5) with per-user time-step consumption,
//     the 5-attempts-in-5-minutes limit and automatic lockout.
//   - The rack proxy (§6.1) allow-list, authentication, permissions and MFA;
//     allow-listed routes answer small placeholders until the in-memory rack
//     exists.
//
// # Seeded accounts
//
// Users returns the three MFA-enrolled gateway users (admin, deployer,
// viewer) with fixed TOTP secrets so demos are reproducible. The mock
// identity provider additionally knows two identities that exist only to
// reach error paths of the login:
//
//   - outsider@example.com: known to the IdP but not a gateway user, so the
//     login ends with 400 "User not authorized for this gateway.".
//   - unenrolled@example.com: a gateway viewer who must use MFA but has not
//     enrolled, so the browser is sent to enrollment and the CLI gets the
//     enrollment 400.
//
// Selecting an e-mail the IdP does not know makes the code exchange fail
// (redirect with error=exchange_failed) and leaves the CLI polling 202, as
// the real server does for an OAuth or domain failure.
//
// # Sandbox-only knobs
//
// The mock authorize page (the auth_url returned by /api/v1/auth/cli/start)
// shows an account chooser. Scripts skip it by appending
// "&selected_user=<email>" to the auth_url; the page then redirects to the
// callback with a code, like the real mock OAuth provider. Appending
// "&mfa=auto" as well simulates the user finishing the MFA challenge in the
// browser: when the login reaches the challenge it is marked verified at
// that moment, without a code, without consuming a TOTP step and without
// counting an MFA attempt. A locked user is not auto-verified.
//
// Following all redirects of
//
//	GET <auth_url>&selected_user=admin@example.com&mfa=auto
//
// therefore ends on /app/cli/auth/success and the CLI's next
// /api/v1/auth/cli/complete poll returns the session token.
//
// # Test introspection
//
// Everything under /_sandbox/ is sandbox-only, answers only clients
// connecting from a loopback address (others get 404) and is not counted by
// RequestCount:
//
//	GET  /_sandbox/requests               {"counts":{"GET /api/v1/info":2,...}}
//	GET  /_sandbox/replays                {"replay_count":0}
//	POST /_sandbox/users/{email}/unlock   {"status":"unlocked"}
//
// # Simplifications
//
//   - The browser web-session cookie set during the login is not issued;
//     POST /api/v1/auth/cli/mfa needs only the state, as in the real handler.
//   - Backup codes, Yubico OTP and WebAuthn verification are not yet
//     implemented: only TOTP codes verify; a WebAuthn proof always fails.
//   - The client IP used by the rate limiter is the connection's address;
//     X-Forwarded-For is ignored because every sandbox client is local.
//   - The §4.9 enrollment-pending 403s and cookie CSRF checks are not
//     enforced; the only unenrolled account cannot finish a CLI login.
//   - Allow-listed rack-proxy routes answer an empty rack (GET /apps is [],
//     GET /system a small rack object, named resources 404, writes and
//     WebSockets 501) until the in-memory rack exists.
package sandbox
