package sandbox

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// The in-memory Convox rack behind the proxy (§6). Shapes follow the
// Convox API (pkg/structs): apps, services, processes, releases, builds,
// objects, system and instances. Everything lives under Server.mu like the
// rest of the sandbox; handlers copy what they need out of the lock before
// touching the network.

const (
	rackName    = "sandbox"
	rackVersion = "3.21.3" // a Convox v3 version string; CLIs compare it
	rackDomain  = "sandbox.localhost"
	// maxObjectBytes bounds one object upload. The spec only promises
	// "at least 10 MB"; more would let a runaway test eat memory.
	maxObjectBytes = 64 << 20
	// maxLogLines bounds each app's event log.
	maxLogLines = 500
	// defaultListLimit is Convox's page size for releases and builds.
	defaultListLimit = 10
)

type rackState struct {
	system    rackSystem
	apps      map[string]*rackApp
	releases  []*rackRelease // creation order, all apps
	builds    []*rackBuild   // creation order, all apps
	processes []*rackProcess
	objects   map[string][]byte // "app/tmp/name" → body
	instances []rackInstance
	logs      map[string][]logLine // app name (or "" for the rack) → lines
	// execCount numbers exec sessions so the marker split varies.
	execCount int
	// dropWS is how many upcoming WebSocket streams to cut (knob).
	dropWS int
	// allowDestructive is the allow_destructive_actions setting.
	allowDestructive bool
}

// rackSystem is structs.System.
type rackSystem struct {
	Count      int    `json:"count"`
	Domain     string `json:"domain"`
	Name       string `json:"name"`
	Provider   string `json:"provider"`
	RackDomain string `json:"rack-domain"`
	Region     string `json:"region"`
	Status     string `json:"status"`
	Type       string `json:"type"`
	Version    string `json:"version"`
}

type rackApp struct {
	name       string
	generation string
	release    string
	status     string
	// settle makes a transient status ("creating", "updating") last for
	// exactly one read, so a client's wait loop sees it once and then
	// "running" without the sandbox running timers.
	settle     bool
	locked     bool
	parameters map[string]string
	services   []*rackService
	// Gateway-side app settings (§5.3, §6.5).
	secretEnvVars    []string
	protectedEnvVars []string
	approvedCommands []string
}

// appView is structs.App.
type appView struct {
	Generation string            `json:"generation,omitempty"`
	Locked     bool              `json:"locked"`
	Name       string            `json:"name"`
	Release    string            `json:"release"`
	Router     string            `json:"router"`
	Status     string            `json:"status"`
	Parameters map[string]string `json:"parameters"`
}

// rackService is structs.Service (minus GPU, NLB and autoscale fields).
type rackService struct {
	Count  int           `json:"count"`
	Cpu    int           `json:"cpu"`
	Domain string        `json:"domain"`
	Memory int           `json:"memory"`
	Name   string        `json:"name"`
	Ports  []servicePort `json:"ports"`
}

type servicePort struct {
	Balancer    int    `json:"balancer"`
	Certificate string `json:"certificate"`
	Container   int    `json:"container"`
}

// rackProcess is structs.Process plus whether it was started by `run`.
type rackProcess struct {
	Id       string    `json:"id"`
	App      string    `json:"app"`
	Command  string    `json:"command"`
	Cpu      float64   `json:"cpu"`
	Host     string    `json:"host"`
	Image    string    `json:"image"`
	Instance string    `json:"instance"`
	Memory   float64   `json:"memory"`
	Name     string    `json:"name"`
	Ports    []string  `json:"ports"`
	Release  string    `json:"release"`
	Started  time.Time `json:"started"`
	Status   string    `json:"status"`
	oneOff   bool
}

// rackRelease is structs.Release; Env is the unmasked KEY=VALUE text.
type rackRelease struct {
	Id          string    `json:"id"`
	App         string    `json:"app"`
	Build       string    `json:"build"`
	Env         string    `json:"env"`
	Manifest    string    `json:"manifest"`
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
}

// rackBuild is structs.Build.
type rackBuild struct {
	Id          string    `json:"id"`
	App         string    `json:"app"`
	Description string    `json:"description"`
	Entrypoint  string    `json:"entrypoint"`
	GitSha      string    `json:"git-sha"`
	Logs        string    `json:"logs"`
	Manifest    string    `json:"manifest"`
	Process     string    `json:"process"`
	Release     string    `json:"release"`
	Reason      string    `json:"reason"`
	Repository  string    `json:"repository"`
	Status      string    `json:"status"`
	Started     time.Time `json:"started"`
	Ended       time.Time `json:"ended"`
	url         string    // the object it builds from
	output      []string  // build log lines, streamed by builds/{id}/logs
}

// rackInstance is structs.Instance (the fields a CLI shows).
type rackInstance struct {
	Agent          bool      `json:"agent"`
	Cpu            float64   `json:"cpu"`
	CpuCapacity    float64   `json:"cpu-capacity"`
	Id             string    `json:"id"`
	InstanceType   string    `json:"instance-type,omitempty"`
	Memory         float64   `json:"memory"`
	MemoryCapacity float64   `json:"memory-capacity"`
	PrivateIp      string    `json:"private-ip"`
	Processes      int       `json:"processes"`
	PublicIp       string    `json:"public-ip"`
	Status         string    `json:"status"`
	Started        time.Time `json:"started"`
}

// logLine is one line of an app's (or the rack's) log.
type logLine struct {
	at     time.Time
	source string // e.g. "service/web/web-4f7c2a", "build/BXXXX", "system/k8s"
	text   string
}

// Seeded identifiers, fixed so tests and demos can name them.
const (
	seedApp       = "demo"
	seedReleaseID = "RDEMOSEEDAA"
	seedBuildID   = "BDEMOSEEDAA"
	seedWebPID    = "web-4f7c2a"
	seedWorkerPID = "worker-9b3e1d"
)

// seedRack builds the deterministic rack. Caller holds s.mu.
func (s *Server) seedRack() {
	now := s.now().UTC()
	rk := &rackState{
		system: rackSystem{
			Count: 2, Domain: "router." + rackDomain, Name: rackName, Provider: "local",
			RackDomain: rackDomain, Region: "local", Status: "running", Type: "t3.small", Version: rackVersion,
		},
		apps:    map[string]*rackApp{},
		objects: map[string][]byte{},
		logs:    map[string][]logLine{},
	}
	s.rack = rk
	for i, id := range []string{"i-0a1b2c3d4e5f60718", "i-0a1b2c3d4e5f60719"} {
		rk.instances = append(rk.instances, rackInstance{
			Agent: true, Cpu: 0.12, CpuCapacity: 2, Id: id, InstanceType: "t3.small", Memory: 0.34,
			MemoryCapacity: 2048, PrivateIp: fmt.Sprintf("10.0.1.%d", 11+i), Processes: 1,
			Status: "running", Started: now.Add(-72 * time.Hour),
		})
	}
	app := &rackApp{
		name: seedApp, generation: "2", release: seedReleaseID, status: "running",
		parameters:       map[string]string{"BuildCpu": "256", "BuildMem": "1024", "BuildLabels": ""},
		protectedEnvVars: []string{"DATABASE_URL"},
		approvedCommands: []string{"bin/migrate"},
		services: []*rackService{
			{Count: 1, Cpu: 256, Memory: 512, Name: "web", Domain: "web.demo." + rackDomain,
				Ports: []servicePort{{Balancer: 443, Container: 3000}}},
			{Count: 1, Cpu: 128, Memory: 256, Name: "worker", Ports: []servicePort{}},
		},
	}
	rk.apps[app.name] = app
	built := now.Add(-time.Hour)
	b := &rackBuild{
		Id: seedBuildID, App: seedApp, Description: "initial build", GitSha: "0123456789abcdef0123456789abcdef01234567",
		Manifest: manifestFor(app), Release: seedReleaseID, Status: "complete",
		Started: built.Add(-2 * time.Minute), Ended: built, url: "object://demo/tmp/seed.tgz",
	}
	b.output = buildOutput(b)
	b.Logs = strings.Join(b.output, "\n") + "\n"
	rk.builds = append(rk.builds, b)
	rk.releases = append(rk.releases, &rackRelease{
		Id: seedReleaseID, App: seedApp, Build: seedBuildID, Manifest: b.Manifest, Description: "initial release",
		Env:     formatEnv(map[string]string{"FOO": "bar", "SECRET_KEY_BASE": "sandbox-secret-key-base", "DATABASE_URL": "postgres://demo:sandbox@db.internal:5432/demo"}),
		Created: built,
	})
	for i, pid := range []string{seedWebPID, seedWorkerPID} {
		svc := app.services[i]
		rk.processes = append(rk.processes, &rackProcess{
			Id: pid, App: seedApp, Command: "", Cpu: 0.05, Host: fmt.Sprintf("10.0.1.%d", 11+i),
			Image: "registry." + rackDomain + "/demo:" + svc.Name + "." + seedBuildID, Instance: rk.instances[i].Id,
			Memory: 0.2, Name: svc.Name, Ports: servicePortStrings(svc), Release: seedReleaseID,
			Started: built, Status: "running",
		})
	}
	s.appendLogLocked(seedApp, "system/k8s", "release "+seedReleaseID+" promoted", built)
}

func manifestFor(app *rackApp) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for _, svc := range app.services {
		fmt.Fprintf(&b, "  %s:\n    build: .\n", svc.Name)
		if len(svc.Ports) > 0 {
			fmt.Fprintf(&b, "    port: %d\n", svc.Ports[0].Container)
		}
	}
	return b.String()
}

func servicePortStrings(svc *rackService) []string {
	out := []string{}
	for _, p := range svc.Ports {
		out = append(out, fmt.Sprintf("%d:%d", p.Balancer, p.Container))
	}
	return out
}

// convoxID mimics Convox ids: a prefix and 10 random upper-case letters.
func convoxID(prefix string) string {
	return prefix + randomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 10)
}

// newProcessID is "<service>-" plus 6 random lower-case characters.
func newProcessID(service string) string {
	return service + "-" + randomFrom("abcdefghijklmnopqrstuvwxyz0123456789", 6)
}

func randomFrom(alphabet string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("sandbox: crypto/rand failed: " + err.Error())
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// parseEnv reads Convox's KEY=VALUE text; blank and # lines are skipped.
func parseEnv(text string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		if k = strings.TrimSpace(k); k != "" {
			env[k] = v
		}
	}
	return env
}

// formatEnv writes env sorted by key so releases compare and diff cleanly.
func formatEnv(env map[string]string) string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + env[k] + "\n")
	}
	return b.String()
}

// isSecretKey is §5.3's rule for this app: the built-in name rule plus the
// app's secret_env_vars and protected_env_vars settings.
func (a *rackApp) isSecretKey(k string) bool {
	return isSecretEnvKey(k) || a.isProtectedKey(k) || containsFold(a.secretEnvVars, k)
}

func (a *rackApp) isProtectedKey(k string) bool { return containsFold(a.protectedEnvVars, k) }

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func (a *rackApp) service(name string) *rackService {
	for _, svc := range a.services {
		if svc.Name == name {
			return svc
		}
	}
	return nil
}

// readLocked renders the app for a status read (GET /apps[/{name}]) and
// lets a transient status settle now that it has been seen once.
func (a *rackApp) readLocked() appView {
	v := a.viewLocked()
	if a.settle {
		a.status, a.settle = "running", false
	}
	return v
}

// viewLocked renders the app as structs.App.
func (a *rackApp) viewLocked() appView {
	v := appView{
		Generation: a.generation, Locked: a.locked, Name: a.name, Release: a.release,
		Router: "router." + rackDomain, Status: a.status, Parameters: map[string]string{},
	}
	for k, val := range a.parameters {
		v.Parameters[k] = val
	}
	return v
}

// setTransient puts the app in status st for one read.
func (a *rackApp) setTransient(st string) { a.status, a.settle = st, true }

// latestReleaseLocked is the newest release of app, promoted or not: what
// the gateway calls "the latest release" (§5.3, §6.4).
func (s *Server) latestReleaseLocked(app string) *rackRelease {
	for i := len(s.rack.releases) - 1; i >= 0; i-- {
		if s.rack.releases[i].App == app {
			return s.rack.releases[i]
		}
	}
	return nil
}

func (s *Server) releaseLocked(app, id string) *rackRelease {
	for _, r := range s.rack.releases {
		if r.App == app && r.Id == id {
			return r
		}
	}
	return nil
}

func (s *Server) buildLocked(app, id string) *rackBuild {
	for _, b := range s.rack.builds {
		if b.App == app && b.Id == id {
			return b
		}
	}
	return nil
}

func (s *Server) processLocked(app, pid string) *rackProcess {
	for _, p := range s.rack.processes {
		if p.App == app && p.Id == pid {
			return p
		}
	}
	return nil
}

// newReleaseLocked stores a release and logs it, like the rack's
// ReleaseCreate. The id is fresh, so the caller's env map is not shared.
func (s *Server) newReleaseLocked(app, build, manifest, description string, env map[string]string) *rackRelease {
	r := &rackRelease{
		Id: convoxID("R"), App: app, Build: build, Env: formatEnv(env), Manifest: manifest,
		Description: description, Created: s.now().UTC(),
	}
	s.rack.releases = append(s.rack.releases, r)
	s.appendLogLocked(app, "system/k8s", "release "+r.Id+" created", s.now())
	return r
}

// spawnLocked starts a service process for release.
func (s *Server) spawnLocked(app *rackApp, svc *rackService, release, command string, oneOff bool) *rackProcess {
	inst := s.rack.instances[len(s.rack.processes)%len(s.rack.instances)]
	p := &rackProcess{
		Id: newProcessID(svc.Name), App: app.name, Command: command, Cpu: 0.01, Host: inst.PrivateIp,
		Image: "registry." + rackDomain + "/" + app.name + ":" + svc.Name, Instance: inst.Id,
		Memory: 0.1, Name: svc.Name, Ports: servicePortStrings(svc), Release: release,
		Started: s.now().UTC(), Status: "running", oneOff: oneOff,
	}
	s.rack.processes = append(s.rack.processes, p)
	s.appendLogLocked(app.name, "service/"+svc.Name+"/"+p.Id, "starting: "+firstNonEmpty(command, "(default command)"), s.now())
	return p
}

// rolloutLocked replaces the service processes of app (all services, or
// only the named one) with count fresh ones on release: a restart, scale
// or promote.
func (s *Server) rolloutLocked(app *rackApp, only, release string) {
	kept := s.rack.processes[:0]
	for _, p := range s.rack.processes {
		if p.App == app.name && !p.oneOff && (only == "" || p.Name == only) {
			continue
		}
		kept = append(kept, p)
	}
	s.rack.processes = kept
	for _, svc := range app.services {
		if only != "" && svc.Name != only {
			continue
		}
		for i := 0; i < svc.Count; i++ {
			s.spawnLocked(app, svc, release, "", false)
		}
	}
}

func (s *Server) appendLogLocked(app, source, text string, at time.Time) {
	lines := append(s.rack.logs[app], logLine{at: at.UTC(), source: source, text: text})
	if len(lines) > maxLogLines {
		lines = lines[len(lines)-maxLogLines:]
	}
	s.rack.logs[app] = lines
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// writeConvoxJSON mirrors the rack's stdapi RenderJSON: indented JSON and
// a trailing newline, which the proxy passes through unchanged.
func writeConvoxJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeConvoxOK is stdapi's RenderOK body for actions without a result.
func writeConvoxOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok\n")
}

// writeConvoxError is a rack error: JSON {"error": msg}, which the Convox
// SDK shows verbatim.
func writeConvoxError(w http.ResponseWriter, status int, msg string) {
	writeConvoxJSON(w, status, map[string]string{"error": msg})
}

// parseForm reads a Convox SDK body: url-encoded (what stdsdk sends) or
// multipart. It reports false after answering 400.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	err := r.ParseMultipartForm(maxObjectBytes)
	if err != nil && err != http.ErrNotMultipart {
		writeConvoxError(w, http.StatusBadRequest, "invalid form body")
		return false
	}
	return true
}

// appOr404 finds an app or answers the rack's 404. Caller holds s.mu.
func (s *Server) appOr404(w http.ResponseWriter, name string) *rackApp {
	a := s.rack.apps[name]
	if a == nil {
		writeConvoxError(w, http.StatusNotFound, "no such app: "+name)
	}
	return a
}
