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
//     POST /api/v1/auth/mfa/verify, PUT /api/v1/auth/mfa/preferred-method
//     (step-up) and GET /api/v1/auth/web/logout.
//   - WebAuthn assertions (§4.4): POST
//     /api/v1/auth/mfa/webauthn/assertion/start and …/verify, and the same
//     proof inline (X-MFA-WebAuthn or .webauthn.), checked with
//     github.com/go-webauthn/webauthn.
//   - The MFA verifier (§4.5): Yubico OTP, TOTP with per-user time-step
//     consumption, backup codes; the 5-attempts-in-5-minutes limits (TOTP
//     class and WebAuthn separately) and automatic lockout at 5 failures of
//     any factor.
//   - Step-up and always enforcement (§4.8) on native and proxy routes.
//   - GET/PUT /api/v1/apps/{app}/env (§5.3; PUT is step-up) on an
//     in-memory environment per app.
//   - API tokens (§5.4): GET/POST /api/v1/api-tokens, GET/PUT/DELETE
//     /api/v1/api-tokens/{public_id}, GET /api/v1/api-tokens/permissions.
//     Create, update and delete are "always" MFA routes; create is also in
//     the token-create rate-limit bucket and answers 200 (as the spec and
//     the real handler do, not 201). Created tokens authenticate at once.
//   - The rack proxy (§6.1) allow-list, authentication, permissions and MFA.
//     POST /apps/{app}/releases answers {"id":"R…","app":…,"created":…};
//     other allow-listed routes answer small placeholders until the
//     in-memory rack exists.
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
// Each seeded user also has, deterministically (nothing extra is printed on
// stdout; tests ask the Server):
//
//   - 10 backup codes, BackupCodes(email): 12 upper-case hex characters,
//     single use. The input is trimmed of surrounding white space and then
//     compared exactly, as on the real server: lower case or dashes fail.
//   - a YubiKey, YubicoOTP(email): the one 44-character modhex OTP the
//     sandbox's offline "Yubico cloud" accepts for that user ("cccccc" +
//     6 characters of public ID + 32 characters). It verifies once; a
//     second use fails like a replayed OTP. Nothing goes to the network.
//
// WebAuthn keys are not seeded; enroll one with EnrollWebAuthn or the
// /_sandbox/users/{email}/webauthn knob below.
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
// # WebAuthn relying party
//
// The RP ID is Config.WebAuthnRPID, else Config.Domain unless that is an IP
// address, else "localhost": an RP ID must be a domain, and go-webauthn
// rejects IPs. The binary therefore always uses "localhost". The origin is
// Config.WebAuthnOrigin; the binary sets it to its url= line
// (http://127.0.0.1:PORT), and when it is empty the origin is the one the
// request arrived on (scheme://Host). A client must:
//
//   - pass options.publicKey.rpId ("localhost") to the authenticator, so
//     authenticatorData starts with SHA-256("localhost"), with UP set;
//   - put {"type":"webauthn.get","challenge":<options.publicKey.challenge
//     exactly as received>,"origin":<the gateway base URL, e.g.
//     "http://127.0.0.1:PORT">} in clientDataJSON; the origin is compared
//     by scheme, host and port (path ignored);
//   - send session_data back verbatim. Any rpId or origin inside it is
//     ignored; the configured ones are used, as on the real server.
//
// A real browser would refuse RP ID "localhost" on an http://127.0.0.1
// page; CLI authenticators (libfido2, software keys) do not check that.
//
// # Test introspection
//
// Everything under /_sandbox/ is sandbox-only, answers only clients
// connecting from a loopback address (others get 404) and is not counted by
// RequestCount:
//
//	GET  /_sandbox/requests               {"counts":{"GET /api/v1/info":2,...}}
//	GET  /_sandbox/replays                {"replay_count":0}
//	GET  /_sandbox/totp-steps             {"replay_count":0,"users":{"<email>":
//	                                        {"consumed_steps":[56666667],"replay_count":0}}}
//	GET  /_sandbox/step-up-window         {"seconds":600}
//	PUT  /_sandbox/step-up-window         body {"seconds":N} (N ≤ 0 → 600); answers as GET
//	POST /_sandbox/users/{email}/unlock   {"status":"unlocked"}
//	POST /_sandbox/users/{email}/expire-step-up
//	                                      {"status":"expired","sessions":N}
//	POST /_sandbox/users/{email}/webauthn body {"credential_id":"<base64url>",
//	                                        "public_key":"<base64url COSE_Key>",
//	                                        "backup_eligible":false}
//	                                      → {"status":"enrolled","method_id":N}
//	PUT  /_sandbox/users/{email}/preferred-method
//	                                      body {"preferred_method":"totp"|"webauthn"|null}
//
// consumed_steps lists every TOTP time step (unix seconds / 30) the server
// accepted for the user, in order; replay_count counts submissions of a
// step the user's clients had already sent, so a well-behaved client keeps
// it at 0. The webauthn body may also carry "label", "transports" and
// "cli_capable" (default true; false hides the key from CLI status calls).
// base64url padding is optional. expire-step-up moves the user's windows
// back as if the window length had elapsed (ExpireStepUp). The step-up window applies to native and
// proxy checks alike from the next request on (see SetStepUpWindow).
//
// # Simplifications
//
//   - The browser web-session cookie set during the login is not issued;
//     POST /api/v1/auth/cli/mfa needs only the state, as in the real handler.
//   - Backup codes and the Yubico OTP are derived from the e-mail instead
//     of random, there is one YubiKey OTP per user, and the backup-code
//     regeneration and enrollment endpoints are not served.
//   - WebAuthn sign counters are not persisted and challenges are not
//     stored, as in the spec's snapshot, so proofs are replayable (§10).
//   - The env API has no per-app secret/protected settings and never
//     reaches a rack; the proxy's release route does not change it.
//   - The client IP used by the rate limiter is the connection's address;
//     X-Forwarded-For is ignored because every sandbox client is local.
//   - The §4.9 enrollment-pending 403s and cookie CSRF checks are not
//     enforced; the only unenrolled account cannot finish a CLI login.
//   - Allow-listed rack-proxy routes answer an empty rack (GET /apps is [],
//     GET /system a small rack object, named resources 404, writes and
//     WebSockets 501) until the in-memory rack exists.
package sandbox
