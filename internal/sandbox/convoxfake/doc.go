// Package convoxfake is an in-memory Convox rack: an http.Handler that
// answers the Convox API at its plain paths (/apps, /apps/{app}/processes,
// /system, …, and the WebSocket streams for logs and exec) the way a rack
// does, for the sandbox gateway to forward to.
//
// A Rack knows nothing of users, permissions, MFA or secrets: like a real
// rack it trusts whoever reaches it, and everything that depends on the
// caller is done by the gateway in front of it (package sandbox). Its state
// is behind a mutex of its own.
//
// # How a gateway uses it
//
// The gateway forwards an allowed request to ServeHTTP with the proxy
// prefix removed, without the caller's credentials and with X-User-Email
// set (which the rack ignores), as a production gateway forwards to a rack.
// A WebSocket upgrade is forwarded like any other request, so the rack
// upgrades the client's own connection; Config.CheckOrigin carries the
// gateway's origin rule to that one upgrade.
//
// The gateway does its own work on the forwarded request and the rack's
// answer: it merges and checks a posted release env before forwarding
// (the rack stores a posted env as the release's whole env), masks env
// values in release answers (the rack answers them unmasked) and reads ids
// out of answers for its deploy approvals. To render a changed answer
// exactly as the rack would it uses WriteJSON and the exported Convox
// types; to read a form exactly as the rack would, ParseForm.
//
// What cannot be read off a forwarded answer goes through a small typed
// interface instead:
//
//   - HasApp, HasBuild and Env (the latest release's env) let the gateway
//     check a request against the rack before forwarding it, and serve its
//     native env API; CreateRelease writes that API's changes.
//   - Config.OnBuildComplete reports a build that produced a release. The
//     rack completes builds on its own schedule (a status poll, or the end
//     of the build's log stream), so no single answer shows it. It is
//     called without the rack's lock, before the answer of the request
//     that completed the build is written, so the gateway may call back.
//   - DropNextWebSocket is the rack's test knob (see below).
//
// # Bodies
//
// Bodies follow the Convox API: form-encoded POST/PUT parameters, indented
// JSON answers (System, App, Service, Process, Release, Build, Instance),
// "ok\n" for actions without a result and {"error":"…"} for rack errors
// ("no such app: X", "no such process: X", "no such build: X", "no such
// release: X", 404). A path or method the rack does not serve answers 404
// "404 page not found\n" as the rack's router does.
//
//   - Apps: list, info, create (form name, generation; 409 when taken,
//     400 for names outside [a-z][a-z0-9-]*), update (lock=true|false,
//     parameters=url-encoded K=V), delete (a locked app answers 400 "app
//     is locked: X"), restart. A new app reports "creating", a scaled or
//     re-parameterised or promoted one "updating", to exactly one status
//     read (GET /apps or /apps/{name}; HasApp is not one), then "running",
//     so wait loops end without timers.
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
//     builds), export and import. Create answers status "created"; the
//     build is then "running" and becomes "complete" with a new release
//     once its log stream has been read to the end, or on the status poll
//     after one that saw it running. A build whose object was never
//     uploaded ends "failed". A build with an empty url (external) stays
//     "created". GET …/builds/{id}.tgz exports a complete build as Convox
//     does, a gzipped tar of build.json and one "<service>.tar" image per
//     service (here a line naming the image); POST …/builds/import takes
//     such an export (400 for anything else) and answers a new build,
//     complete at once, with the export's description, logs and manifest
//     and a new release forked from the app's latest one.
//   - Releases: list (?limit=N, default 10, newest first), info, create
//     (form env, build, description; it forks the latest release, and a
//     posted env replaces its env whole), promote (sets the app's release,
//     rolls its processes, answers "ok"). Env values are never masked.
//   - System: GET /system (name "sandbox", version 3.21.3, count 2, type
//     t3.small, a few v3 parameters), PUT /system (form count, type,
//     version, and parameters as one url-encoded field; a change makes
//     the status "updating" for one read, logs a system/rack line, and a
//     version is added to /system/releases, newest first),
//     /system/capacity, /system/metrics ([]), /system/processes (api and
//     router; ?all=true adds every app's); GET /instances and
//     /instances/{id}.
//   - WebSockets: /apps/{app}/logs and …/processes/{pid}/logs honour
//     Follow, Since (a Go duration), Filter (substring of source and text)
//     and Prefix ("<RFC3339> <source> <text>"); without Follow they end with
//     a normal close, with Follow a new line comes every
//     Config.FollowInterval (200 ms) until the client closes.
//     /apps/{app}/builds/{id}/logs sends the build output and closes;
//     /system/logs the rack's lines. Exec (Command, Tty, Height, Width)
//     runs a fake shell: echo [-n], exit N, cat (stdin until an empty
//     binary message), env/printenv (the process's release env plus APP,
//     SERVICE, RELEASE, RACK, HOSTNAME), sleep N, true, false, pwd,
//     hostname, sh -c "…", and an interactive sh/bash reading one command
//     per stdin line; anything else prints "sh: 1: X: not found" and exits
//     127. With Tty: true, "\n" is sent as "\r\n". Output is followed by
//     ExecMarker and the exit code, then a normal close. The marker is
//     split over two messages for exit code 3 and for every 4th exec of
//     the rack; every 4th exec starting with the 2nd sends its last output
//     chunk in the marker's message, because clients must cope with both.
//
// DropNextWebSocket arms the next WebSocket stream (logs or exec; each
// call arms one more) to send at most one message and then lose its TCP
// connection: no exit marker, no close frame. A dropped build log stream
// does not complete its build.
//
// FloodNextLogs arms the next log stream (app, process or system; each
// call arms one more) to send a given number of bytes of lines as fast as
// the client reads them and then close normally, Follow or not: the
// throughput benchmark's source (see LogFlood).
//
// # Seed
//
// App "demo" (SeedApp: generation 2, running, release SeedReleaseID) with
// services web (1×, 256 CPU, 512 MB, port 443→3000) and worker (1×); build
// SeedBuildID (complete); release SeedReleaseID with env FOO=bar,
// SECRET_KEY_BASE=sandbox-secret-key-base and
// DATABASE_URL=postgres://demo:sandbox@db.internal:5432/demo; running
// processes SeedWebPID and SeedWorkerPID; instances i-0a1b2c3d4e5f60718
// and i-0a1b2c3d4e5f60719. Each process "logs" three lines dated 50/40/30 s
// before the request, so any Since ≥ 1m shows them.
//
// # Simplifications
//
// The rack does not unpack tarballs or parse convox.yml: builds get a
// manifest listing the app's services, and a fresh app gains a single
// "web" service at its first build or promote. Log Tail and Previous
// headers are ignored.
package convoxfake
