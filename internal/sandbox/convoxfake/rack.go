package convoxfake

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// maxObjectBytes bounds one object upload and the memory one form body may
// take. Convox only promises "at least 10 MB"; more would let a runaway
// test eat memory.
const maxObjectBytes = 64 << 20

// ErrNoSuchApp is returned by the typed methods for an app the rack does
// not have.
var ErrNoSuchApp = errors.New("no such app")

// Config tunes a Rack. The zero value is a rack with real timings.
type Config struct {
	// Now is the clock; nil means time.Now. A gateway in front of the rack
	// passes its own, so both sides agree on every timestamp.
	Now func() time.Time
	// FollowInterval paces followed log streams; ≤ 0 means 200 ms.
	FollowInterval time.Duration
	// Sleep backs the fake shell's `sleep`; nil waits on a timer, or until
	// the stream ends.
	Sleep func(ctx context.Context, d time.Duration)
	// CheckOrigin is the WebSocket upgrader's origin check; nil means
	// gorilla/websocket's default (an Origin, when sent, must name the
	// request's Host). In the sandbox the rack upgrades the client's own
	// connection, so this is the one upgrade and the gateway's check.
	CheckOrigin func(r *http.Request) bool
	// OnBuildComplete, when set, hears of every build that completes with
	// a release, after the rack's lock is released and before the answer
	// of the request that completed it is written.
	OnBuildComplete func(BuildCompletion)
}

// BuildCompletion tells the gateway that a build produced a release. A
// build completes on the rack's own schedule (a status poll or the end of
// its log stream), so the gateway cannot see it in a forwarded answer.
type BuildCompletion struct {
	App     string
	Build   string
	Release string
	At      time.Time // the build's end, in UTC
}

// Rack is an in-memory Convox rack. It is an http.Handler serving the
// Convox API at its plain paths (/apps, /system, …). All state is behind
// one mutex of its own; handlers copy what they need out of the lock
// before touching the network.
type Rack struct {
	cfg    Config
	routes []route

	mu        sync.Mutex
	system    System
	sys       systemState // what PUT /system changed (system.go)
	apps      map[string]*rackApp
	releases  []*Release   // creation order, all apps
	builds    []*rackBuild // creation order, all apps
	processes []*rackProcess
	objects   map[string][]byte // "app/tmp/name" → body
	instances []Instance
	// oneOffsEnd: a one-off process ends with its command (EndOneOffsOnExit).
	oneOffsEnd bool
	logs       map[string][]logLine // app name (or "" for the rack) → lines
	// execCount numbers exec sessions so the marker split varies.
	execCount int
	// dropWS is how many upcoming WebSocket streams to cut.
	dropWS int
	// floods are armed FloodNextLogs, oldest first (flood.go).
	floods []LogFlood
}

// New returns a seeded rack (see the package documentation for the seed).
func New(cfg Config) *Rack {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FollowInterval <= 0 {
		cfg.FollowInterval = 200 * time.Millisecond
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepContext
	}
	rk := &Rack{cfg: cfg, routes: routes()}
	rk.mu.Lock()
	rk.seedLocked()
	rk.mu.Unlock()
	return rk
}

func (rk *Rack) now() time.Time { return rk.cfg.Now() }

// route is one Convox API route; "{name}" in pattern matches a segment.
type route struct {
	method, pattern string
	handle          func(rk *Rack, w http.ResponseWriter, r *http.Request, vars map[string]string)
}

// routes is the part of the Convox API the rack implements. The log and
// exec routes are WebSocket upgrades of a GET.
func routes() []route {
	get, post, put, del := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	return []route{
		{get, "/apps", (*Rack).appList},
		{get, "/apps/{name}", (*Rack).appGet},
		{post, "/apps", (*Rack).appCreate},
		{put, "/apps/{name}", (*Rack).appUpdate},
		{del, "/apps/{name}", (*Rack).appDelete},
		{post, "/apps/{app}/restart", (*Rack).appRestart},
		{get, "/apps/{app}/services", (*Rack).serviceList},
		{put, "/apps/{app}/services/{name}", (*Rack).serviceUpdate},
		{post, "/apps/{app}/services/{service}/restart", (*Rack).serviceRestart},
		{get, "/apps/{app}/processes", (*Rack).processList},
		{get, "/apps/{app}/processes/{pid}", (*Rack).processGet},
		{del, "/apps/{app}/processes/{pid}", (*Rack).processStop},
		{post, "/apps/{app}/services/{service}/processes", (*Rack).processRun},
		{get, "/apps/{app}/processes/{pid}/exec", (*Rack).exec},
		{get, "/apps/{app}/logs", (*Rack).appLogs},
		{get, "/apps/{app}/processes/{pid}/logs", (*Rack).processLogs},
		{get, "/apps/{app}/builds/{id}/logs", (*Rack).buildLogs},
		{get, "/system/logs", (*Rack).systemLogs},
		{get, "/apps/{app}/builds", (*Rack).buildList},
		{get, "/apps/{app}/builds/{id}.tgz", (*Rack).buildExport},
		{get, "/apps/{app}/builds/{id}", (*Rack).buildGet},
		{post, "/apps/{app}/builds", (*Rack).buildCreate},
		{post, "/apps/{app}/builds/import", (*Rack).buildImportArchive},
		{put, "/apps/{app}/builds/{id}", (*Rack).buildUpdate},
		{get, "/apps/{app}/releases", (*Rack).releaseList},
		{get, "/apps/{app}/releases/{id}", (*Rack).releaseGet},
		{post, "/apps/{app}/releases", (*Rack).releaseCreate},
		{post, "/apps/{app}/releases/{id}/promote", (*Rack).releasePromote},
		{post, "/apps/{app}/objects/tmp/{name}", (*Rack).objectStore},
		{get, "/instances", (*Rack).instanceList},
		{get, "/instances/{id}", (*Rack).instanceGet},
		{get, "/system", (*Rack).systemGet},
		{get, "/system/capacity", (*Rack).systemCapacity},
		{get, "/system/metrics", (*Rack).systemMetrics},
		{get, "/system/processes", (*Rack).systemProcesses},
		{get, "/system/releases", (*Rack).systemReleases},
		{put, "/system", (*Rack).systemUpdate},
	}
}

// ServeHTTP answers one Convox API request. A path or method the rack does
// not serve is a plain-text 404, as the rack's router answers it.
func (rk *Rack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	for _, rt := range rk.routes {
		if rt.method != r.Method {
			continue
		}
		if vars, ok := MatchPattern(rt.pattern, segs); ok {
			rt.handle(rk, w, r, vars)
			return
		}
	}
	http.NotFound(w, r)
}

// MatchPattern matches path segments against a route pattern such as
// "/apps/{app}/processes/{pid}" and returns the named segments. A named
// segment may end in a literal, as in "{id}.tgz": the segment must then
// end in it too, and the name gets the rest. The gateway's allow-list
// uses it too, so both sides read routes alike.
func MatchPattern(pattern string, segs []string) (map[string]string, bool) {
	want := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	if len(want) != len(segs) {
		return nil, false
	}
	vars := map[string]string{}
	for i, w := range want {
		if end := strings.Index(w, "}"); strings.HasPrefix(w, "{") && end > 0 {
			val, ok := strings.CutSuffix(segs[i], w[end+1:])
			if !ok || val == "" {
				return nil, false
			}
			vars[w[1:end]] = val
			continue
		}
		if w != segs[i] {
			return nil, false
		}
	}
	return vars, true
}

// HasApp reports whether the rack has the app, without the status read
// that GET /apps/{name} counts (see the package documentation).
func (rk *Rack) HasApp(name string) bool {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	return rk.apps[name] != nil
}

// HasBuild reports whether app has the build.
func (rk *Rack) HasBuild(app, id string) bool {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	return rk.buildLocked(app, id) != nil
}

// Env is the unmasked env of app's latest release, promoted or not: what
// a new release starts from. It is empty for an app without releases.
func (rk *Rack) Env(app string) (map[string]string, error) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	if rk.apps[app] == nil {
		return nil, ErrNoSuchApp
	}
	if rel := rk.latestReleaseLocked(app); rel != nil {
		return ParseEnv(rel.Env), nil
	}
	return map[string]string{}, nil
}

// CreateRelease stores a release of app with exactly env, on the latest
// release's build and manifest, and does not promote it: POST
// /apps/{app}/releases with an env and no build.
func (rk *Rack) CreateRelease(app string, env map[string]string, description string) (Release, error) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	if rk.apps[app] == nil {
		return Release{}, ErrNoSuchApp
	}
	b, manifest := "", ""
	if base := rk.latestReleaseLocked(app); base != nil {
		b, manifest = base.Build, base.Manifest
	}
	return *rk.newReleaseLocked(app, b, manifest, description, env), nil
}

// DropNextWebSocket arms one more upcoming WebSocket stream (logs or exec)
// to send at most one message and then lose its TCP connection, with no
// exit marker and no close frame, so clients can be tested for not
// hanging. It returns how many streams are armed.
func (rk *Rack) DropNextWebSocket() int {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	rk.dropWS++
	return rk.dropWS
}

// WriteJSON renders v as the rack renders every answer (stdapi's
// RenderJSON): indented JSON and a trailing newline. A gateway that
// rewrites an answer renders it with this, so only what it changed
// differs.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeOK is stdapi's RenderOK body for actions without a result.
func writeOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok\n")
}

// writeError is a rack error: JSON {"error": msg}, which the Convox SDK
// shows verbatim.
func writeError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

// ParseForm parses a Convox SDK body into r.Form as the rack does:
// url-encoded (what stdsdk sends) or multipart. A gateway that reads a
// form before forwarding it uses this too, so both sides agree on what
// the body says and on whether it can be read at all.
func ParseForm(r *http.Request) error {
	err := r.ParseMultipartForm(maxObjectBytes)
	if errors.Is(err, http.ErrNotMultipart) {
		return nil
	}
	return err
}

// parseForm is ParseForm for a handler; it reports false after answering
// 400.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	if ParseForm(r) != nil {
		writeError(w, http.StatusBadRequest, "invalid form body")
		return false
	}
	return true
}

// appOr404 finds an app or answers the rack's 404. Caller holds rk.mu.
func (rk *Rack) appOr404(w http.ResponseWriter, name string) *rackApp {
	a := rk.apps[name]
	if a == nil {
		writeError(w, http.StatusNotFound, "no such app: "+name)
	}
	return a
}

func (rk *Rack) processOr404(w http.ResponseWriter, app, pid string) *rackProcess {
	p := rk.processLocked(app, pid)
	if p == nil {
		writeError(w, http.StatusNotFound, "no such process: "+pid)
	}
	return p
}

func (rk *Rack) buildOr404(w http.ResponseWriter, app, id string) *rackBuild {
	b := rk.buildLocked(app, id)
	if b == nil {
		writeError(w, http.StatusNotFound, "no such build: "+id)
	}
	return b
}

func (rk *Rack) releaseOr404(w http.ResponseWriter, app, id string) *Release {
	rel := rk.releaseLocked(app, id)
	if rel == nil {
		writeError(w, http.StatusNotFound, "no such release: "+id)
	}
	return rel
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
