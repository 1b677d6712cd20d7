// Package sandbox is an in-process fake of the DocSpring rack-gateway server.
//
// It exists so end-to-end tests and `make demo` can drive the real CLI and
// agent against something that speaks the gateway's wire protocol without
// Google OAuth, Postgres or a Convox rack. Status codes, JSON/text bodies
// and headers follow the real server (docs/gateway-protocol.md has the
// facts the client relies on); where the sandbox has to simplify, the
// difference is listed below.
//
// # What it serves
//
//   - Transport rules: host check, Origin check and the three independent
//     per-IP token buckets (auth, mfa, token-create).
//   - Credentials (docs/gateway-protocol.md, "Credentials"): Bearer and
//     Basic, rgw_ API tokens, the token.type.value inline MFA suffix,
//     X-Mfa-Totp / X-MFA-WebAuthn headers and the native (JSON) and proxy
//     (text) 401 forms.
//   - The CLI login ("CLI login") with a mock OAuth provider hosted by the
//     sandbox itself at /oauth/authorize, plus the /app/... browser pages
//     as tiny HTML stubs.
//   - GET /api/v1/health, /api/v1/info, /api/v1/auth/mfa/status,
//     POST /api/v1/auth/mfa/verify, PUT /api/v1/auth/mfa/preferred-method
//     (step-up) and GET /api/v1/auth/web/logout.
//   - WebAuthn assertions ("WebAuthn assertions"): POST
//     /api/v1/auth/mfa/webauthn/assertion/start and …/verify, and the same
//     proof inline (X-MFA-WebAuthn or .webauthn.), checked with
//     github.com/go-webauthn/webauthn.
//   - The MFA verifier (docs/gateway-protocol.md, "Factor acceptance"):
//     Yubico OTP, TOTP with per-user time-step consumption, backup codes;
//     the 5-attempts-in-5-minutes limits (TOTP class and WebAuthn
//     separately) and automatic lockout at 5 failures of any factor.
//   - Step-up and always enforcement (docs/gateway-protocol.md, "MFA
//     levels") on native and proxy routes.
//   - GET/PUT /api/v1/apps/{app}/env (PUT is step-up), read from and
//     written as releases of the rack below.
//   - API tokens: GET/POST /api/v1/api-tokens, GET/PUT/DELETE
//     /api/v1/api-tokens/{public_id}, GET /api/v1/api-tokens/permissions.
//     Create, update and delete are "always" MFA routes; create is also in
//     the token-create rate-limit bucket and answers 200 (as the real
//     handler does, not 201). Created tokens authenticate at once.
//   - Deploy approvals: GET/POST /api/v1/deploy-approval-requests,
//     GET …/{id}, POST …/{id}/approve, …/reject, …/extend (the last three
//     "always" MFA), with the proxy's gating of deploy_with_approval
//     tokens.
//   - Administration (docs/gateway-protocol.md, "Sessions and
//     administration", and admin.go): users, their sessions (a revoked
//     one fails from its next request), lock and unlock, roles, global
//     settings and the audit log with its CSV export; refused to API
//     tokens, authorised before MFA is asked for.
//   - The rack proxy (docs/gateway-protocol.md, "Rack proxy"): its
//     allow-list, authentication, permissions, MFA and destructive-action
//     policy, in front of an in-memory Convox rack (next section).
//
// # The rack behind the proxy
//
// The rack is package convoxfake: a Convox rack kept in memory, with its
// own lock, serving the plain Convox API; its documentation lists what it
// answers and its seed. Server.Rack returns it. The gateway forwards an
// allowed /api/v1/rack-proxy/<path> request to it as the real proxy
// forwards to a rack: path <path>, no Authorization, Cookie or MFA
// headers, and X-User-Email set to the caller (a token's owner). A
// WebSocket upgrade takes over the client's own connection, with the
// gateway's origin rule. The gateway never calls the rack while holding
// its own lock, and the rack calls the gateway back only outside its
// lock, so the two never nest.
//
// What depends on the caller is the gateway's, done around forwarding
// (docs/gateway-protocol.md, "Environment and releases"):
//
//   - Release env values in release answers (list, info, create) are
//     masked: secret and protected keys always, every value for callers
//     without convox:env:read. Secret keys are names containing SECRET or
//     TOKEN or ending in _KEY / _KEY_ID, plus the app's settings below.
//   - An env posted to POST /apps/{app}/releases is merged before the rack
//     sees it: a mask keeps the current value, posted keys are set, absent
//     keys are deleted except protected ones. Any change needs env:set, a
//     secret change secret:set, and protected keys never change; every
//     refusal is 403 "You don't have permission to create releases.", and
//     a mask for a key that does not exist is 400 {"error":"Masked secret
//     value submitted without an existing secret."}. An unreadable form,
//     an unknown app or build reach the rack unchanged, for its own error.
//   - Every proxied DELETE but a process stop is refused with 403
//     "Destructive rack actions are disabled by policy" unless
//     allow_destructive_actions is set.
//   - Per-app settings: demo has protected_env_vars DATABASE_URL and the
//     approved deploy command "bin/migrate"; other apps have none, and an
//     app the rack deletes loses its settings.
//
// Deploy approvals: create needs the app to exist on the rack; a token
// caller is its own default target; approval lasts 15 minutes; the gated
// actions of a deploy_with_approval token are matched like the real
// server's (object: any approved request without an upload; build:
// git-sha a prefix of the approved commit; build and release reads by the
// recorded ids; run: Release header = the recorded release and Command
// "sleep 3600" or an approved command; exec and stop: a recorded process).
// The object URL, build id and process ids are recorded from the rack's
// answers, the release id when the rack reports the build complete
// (convoxfake.Config.OnBuildComplete) and exec commands at the gate; a
// successful promote marks the request "deployed".
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
//	GET  /_sandbox/users/{email}/mfa      {"locked":false,"lock_reason":"","attempts":[
//	                                        {"at":"<RFC3339>","factor":"totp","success":true,
//	                                         "reason":""}]}
//	POST /_sandbox/users/{email}/unlock   {"status":"unlocked"}
//	POST /_sandbox/users/{email}/expire-step-up
//	                                      {"status":"expired","sessions":N}
//	POST /_sandbox/users/{email}/webauthn body {"credential_id":"<base64url>",
//	                                        "public_key":"<base64url COSE_Key>",
//	                                        "backup_eligible":false}
//	                                      → {"status":"enrolled","method_id":N}
//	PUT  /_sandbox/users/{email}/preferred-method
//	                                      body {"preferred_method":"totp"|"webauthn"|null}
//	POST /_sandbox/users/{email}/trusted-devices
//	                                      {"status":"trusted","id":N} (a browser that ticked
//	                                        "trust this device")
//	GET  /_sandbox/build-source?app=A&id=B  the source tarball build B of app A was built from
//	POST /_sandbox/drop-websockets        {"status":"armed","pending":N}
//	GET  /_sandbox/destructive-actions    {"allow":false}
//	PUT  /_sandbox/destructive-actions    body {"allow":true|false}; answers as GET
//	GET  /_sandbox/deploy-approvals       {"enabled":true,"window_seconds":900}
//	PUT  /_sandbox/deploy-approvals       body {"enabled":B,"window_seconds":N}
//	                                      (N ≤ 0 → 900); answers as GET
//	POST /_sandbox/faults                 body {"method":"POST","path":"/api/v1/auth/mfa/verify",
//	                                        "status":502,"count":1,"after":true}
//	                                        or {"method":…,"path":…,"drop":true,"count":N}
//	                                      → {"status":"armed","faults":[…]}
//	GET  /_sandbox/faults                 {"faults":[{"method":"POST","path":"…","status":502,
//	                                        "drop":false,"count":1,"after":true}]}
//	DELETE /_sandbox/faults               {"status":"cleared","cleared":N}
//	POST /_sandbox/log-flood              body {"bytes":N,"line_bytes":100,"message_bytes":32768}
//	                                      → {"status":"armed","pending":N}
//
// log-flood is the rack's FloodNextLogs (Server.Rack): each POST arms one
// more upcoming log stream (app, process or system logs) to send, after its
// usual lines, bytes of output in lines of line_bytes (newline included,
// default 100) packed into messages of message_bytes (default 32 KiB), as
// fast as the client reads, and then close normally even under Follow: a
// relay's throughput is measured against a direct reader of the same
// stream (docs/performance.md).
//
// faults (InjectFault, Faults, ClearFaults) make the next count requests
// (default 1) with exactly that method and URL path, query ignored, fail as
// if something between client and gateway broke. With status (200–599) the
// answer is replaced by that status and its lower-case status text:
// {"error":"bad gateway"} on the gateway's JSON API under /api/, plain text
// "bad gateway" on the rack proxy and everywhere else. after:true lets the
// gateway process the request first, so every effect happens (attempt rows,
// consumed TOTP steps, an opened step-up window) and only the answer is
// lost; after:false (the default) answers without the request reaching
// the gateway. drop:true instead closes the connection without a byte of
// answer, always after processing; where the connection cannot be taken
// over (an in-process ResponseRecorder) the handler panics with
// http.ErrAbortHandler. Several faults on one route apply oldest first;
// faulted requests are counted by /_sandbox/requests like any other, and
// /_sandbox/ itself cannot be faulted. A WebSocket upgrade cannot be
// processed under after:true (the stream never starts). Note that Go's
// http.Transport silently re-sends an idempotent request (GET) that loses
// a reused connection: with count 1 the client then sees a normal answer
// to a request that ran twice.
//
// users/{email}/mfa (UserMFAState) shows the user's lock and the MFA
// attempt rows of the last 5 minutes, oldest first: exactly the rows the
// attempt limits and the automatic lock count. factor is "totp" for every
// non-WebAuthn code (a Yubico OTP success leaves no row) or "webauthn";
// reason is "" or "backup_code" for a success and e.g. invalid_code,
// replay_detected or rate_limited for a failure. A client test can assert
// from it how many codes reached the gateway, whatever endpoint carried
// them. unlock clears the lock and also forgets these rows (see
// Simplifications).
//
// consumed_steps lists every TOTP time step (unix seconds / 30) the server
// accepted for the user, in order; replay_count counts submissions of a
// step the user's clients had already sent, so a well-behaved client keeps
// it at 0. The webauthn body may also carry "label", "transports" and
// "cli_capable" (default true; false hides the key from CLI status calls).
// base64url padding is optional. drop-websockets is the rack's
// DropNextWebSocket (Server.Rack): it arms the next WebSocket stream (logs
// or exec; each POST arms one more) to send at most one message and then
// lose its TCP connection: no exit marker, no close frame, so clients can
// be tested for not hanging. destructive-actions is the gateway's
// allow_destructive_actions setting (SetAllowDestructiveActions; default
// false: every proxied DELETE but a process stop is refused by policy).
// deploy-approvals is deploy_approvals_enabled and the approval window
// (ConfigureDeployApprovals); when disabled, gated actions are simply
// allowed. expire-step-up moves the user's windows back as if the window
// length had elapsed (ExpireStepUp). The step-up window applies to native
// and proxy checks alike from the next request on (see SetStepUpWindow).
//
// # Simplifications
//
//   - The browser web-session cookie set during the login is not issued;
//     POST /api/v1/auth/cli/mfa needs only the state, as in the real handler.
//   - Backup codes and the Yubico OTP are derived from the e-mail instead
//     of random, there is one YubiKey OTP per user, and the backup-code
//     regeneration and enrollment endpoints are not served.
//   - WebAuthn sign counters are not persisted and challenges are not
//     stored, as on the real server, so proofs are replayable.
//   - Per-app settings are fixed (see above) and cannot be changed; they
//     go when the rack deletes the app, where the real gateway keeps them.
//     There is no server-wide CONVOX_SECRET_ENV_VARS.
//   - Native GET /api/v1/apps/{app}/env for an unknown app is 404
//     {"error":"no such app: X"} (the real gateway relays a rack failure);
//     PUT creates a release but does not promote it.
//   - The rack's own simplifications are listed in package convoxfake.
//     The deploy-approval GitHub checks and the build image-pattern
//     validation are not implemented. The audit log holds the
//     administration actions only (not every proxied request), one row
//     per event (event_count 1, no hashes); sessions carry no IP address
//     or user agent.
//   - The client IP used by the rate limiter is the connection's address;
//     X-Forwarded-For is ignored because every sandbox client is local.
//   - The unlock knob also forgets the user's MFA attempt rows, so a test
//     can go on at once. The real admin unlock keeps them: there, a failure
//     within 5 minutes of the lock finds the old failures and locks again.
//   - The enrollment-pending 403s and cookie CSRF checks are not
//     enforced; the only unenrolled account cannot finish a CLI login.
package sandbox
