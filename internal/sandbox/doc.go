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
//   - GET/PUT /api/v1/apps/{app}/env (§5.3; PUT is step-up), read from
//     and written as releases of the in-memory rack below.
//   - API tokens (§5.4): GET/POST /api/v1/api-tokens, GET/PUT/DELETE
//     /api/v1/api-tokens/{public_id}, GET /api/v1/api-tokens/permissions.
//     Create, update and delete are "always" MFA routes; create is also in
//     the token-create rate-limit bucket and answers 200 (as the spec and
//     the real handler do, not 201). Created tokens authenticate at once.
//   - Deploy approvals (§5.5): GET/POST /api/v1/deploy-approval-requests,
//     GET …/{id}, POST …/{id}/approve, …/reject, …/extend (the last three
//     "always" MFA), with the §6.5 gating of deploy_with_approval tokens.
//   - The rack proxy (§6.1) allow-list, authentication, permissions and
//     MFA, in front of an in-memory Convox rack (next section).
//
// # The in-memory rack
//
// Every allow-listed proxy route is answered by a small Convox rack kept
// in memory. Bodies follow the Convox API: form-encoded POST/PUT
// parameters, indented JSON answers (structs.App, Service, Process,
// Release, Build, System, Instance), "ok\n" for actions without a result
// and {"error":"…"} for rack errors ("no such app: X", "no such process:
// X", "no such build: X", "no such release: X", 404).
//
//   - Apps: list, info, create (form name, generation; 409 when taken,
//     400 for names outside [a-z][a-z0-9-]*), update (lock=true|false,
//     parameters=url-encoded K=V), delete (after the destructive-action
//     policy; a locked app answers 400 "app is locked: X"), restart. A new
//     app reports "creating", a scaled or re-parameterised or promoted one
//     "updating", to exactly one status read (GET /apps or /apps/{name}),
//     then "running", so wait loops end without timers.
//   - Services: list; PUT …/services/{name} scales (count, cpu, memory) and
//     rolls the service's processes; POST …/services/{svc}/restart.
//   - Processes: list (?service=, ?release=), info, stop (a service process
//     is replaced by a new one, a one-off just ends), and run: POST
//     …/services/{svc}/processes with Command (and optional Release)
//     headers answers a new "running" one-off process.
//   - Objects: POST /apps/{app}/objects/tmp/{name} stores the body (up to
//     64 MB) and answers {"url":"object://{app}/tmp/{name}"}.
//   - Builds: list (?limit=N, default 10, newest first), info, create (form
//     url, description, git-sha, manifest), update (PUT, for external
//     builds), import, and export as GET …/builds/{id}.tgz (the uploaded
//     bytes). Create answers status "created"; the build is then "running"
//     and becomes "complete" with a new release once its log stream has
//     been read to the end, or on the status poll after one that saw it
//     running. A build whose object was never uploaded ends "failed".
//     A build with an empty url (external) stays "created".
//   - Releases: list (?limit=N, default 10, newest first), info, create
//     (form env, build, description; it forks the latest release), promote
//     (sets the app's release, rolls its processes, answers "ok").
//     Release env values are masked as §6.3 says: secret and protected keys
//     always, every value for callers without convox:env:read. A posted env
//     is merged as §6.4 says; every refusal is 403 "You don't have
//     permission to create releases." and a mask for a key that does not
//     exist is 400 {"error":"Masked secret value submitted without an
//     existing secret."}.
//   - System: GET /system (name "sandbox", version 3.21.3), PUT /system
//     (count, type, version), /system/capacity, /system/metrics ([]),
//     /system/processes, /system/releases; GET /instances and
//     /instances/{id}.
//   - WebSockets (§6.6): /apps/{app}/logs and …/processes/{pid}/logs honour
//     Follow, Since (a Go duration), Filter (substring of source and text)
//     and Prefix ("<RFC3339> <source> <text>"); without Follow they end with
//     a normal close, with Follow a new line comes every 200 ms until the
//     client closes. /apps/{app}/builds/{id}/logs sends the build output and
//     closes; /system/logs the rack's lines. Exec (Command, Tty, Height,
//     Width) runs a fake shell: echo [-n], exit N, cat (stdin until an empty
//     binary message), env/printenv (the process's release env, unmasked,
//     plus APP, SERVICE, RELEASE, RACK, HOSTNAME), sleep N, true, false,
//     pwd, hostname, sh -c "…", and an interactive sh/bash reading one
//     command per stdin line; anything else prints "sh: 1: X: not found"
//     and exits 127. With Tty: true, "\n" is sent as "\r\n". Output is
//     followed by "F1E49A85-0AD7-4AEF-A618-C249C6E6568D:<code>" and a
//     normal close. The marker is split over two messages for exit code 3
//     and for every 4th exec of the server; every 4th exec starting with
//     the 2nd sends its last output chunk in the marker's message.
//
// Seeded rack: app "demo" (generation 2, running, release RDEMOSEEDAA,
// protected_env_vars DATABASE_URL, approved deploy command "bin/migrate")
// with services web (1×, 256 CPU, 512 MB, port 443→3000) and worker (1×);
// build BDEMOSEEDAA (complete); release RDEMOSEEDAA with env FOO=bar,
// SECRET_KEY_BASE=sandbox-secret-key-base (secret by name) and
// DATABASE_URL=postgres://demo:sandbox@db.internal:5432/demo (protected);
// running processes web-4f7c2a and worker-9b3e1d; instances
// i-0a1b2c3d4e5f60718 and i-0a1b2c3d4e5f60719. Each process "logs" three
// lines dated 50/40/30 s before the request, so any Since ≥ 1m shows them.
//
// Deploy approvals: create needs the app to exist; a token caller is its
// own default target; approval lasts 15 minutes; the gated actions of a
// deploy_with_approval token are matched as §6.5 says (object: any
// approved request without an upload; build: git-sha a prefix of the
// approved commit; build and release reads by the recorded ids; run:
// Release header = the recorded release and Command "sleep 3600" or an
// approved command; exec and stop: a recorded process). Object URL, build,
// release, process ids and exec commands are recorded, and a successful
// promote marks the request "deployed".
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
// base64url padding is optional. drop-websockets arms the next WebSocket
// stream (logs or exec; each POST arms one more) to send at most one
// message and then lose its TCP connection: no exit marker, no close
// frame, so clients can be tested for not hanging. destructive-actions is
// the allow_destructive_actions setting (default false: every proxied
// DELETE but a process stop is refused by policy). deploy-approvals is
// deploy_approvals_enabled and the approval window; when disabled, gated
// actions are simply allowed. expire-step-up moves the user's windows
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
//   - Per-app settings are fixed: demo has protected_env_vars DATABASE_URL
//     and approved deploy commands bin/migrate; new apps have none. There
//     is no server-wide CONVOX_SECRET_ENV_VARS.
//   - Native GET /api/v1/apps/{app}/env for an unknown app is 404
//     {"error":"no such app: X"} (the real gateway relays a rack failure);
//     PUT creates a release but does not promote it.
//   - The rack does not unpack tarballs or parse convox.yml: builds get a
//     manifest listing the app's services, and a fresh app gains a single
//     "web" service at its first build or promote. Log Tail and Previous
//     headers are ignored. The deploy-approval GitHub checks, audit logs
//     and the build image-pattern validation are not implemented.
//   - The client IP used by the rate limiter is the connection's address;
//     X-Forwarded-For is ignored because every sandbox client is local.
//   - The unlock knob also forgets the user's MFA attempt rows, so a test
//     can go on at once. The real admin unlock keeps them: there, a failure
//     within 5 minutes of the lock finds the old failures and locks again.
//   - The §4.9 enrollment-pending 403s and cookie CSRF checks are not
//     enforced; the only unenrolled account cannot finish a CLI login.
package sandbox
