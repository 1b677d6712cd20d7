package convoxfake

import (
	"time"
)

// Lookups and changes of the rack's state shared by several handlers.
// Every function here expects the caller to hold rk.mu.

func (a *rackApp) service(name string) *Service {
	for _, svc := range a.services {
		if svc.Name == name {
			return svc
		}
	}
	return nil
}

// read renders the app for a status read (GET /apps[/{name}]) and lets a
// transient status settle now that it has been seen once.
func (a *rackApp) read() App {
	v := a.view()
	if a.settle {
		a.status, a.settle = "running", false
	}
	return v
}

// view renders the app as structs.App.
func (a *rackApp) view() App {
	v := App{
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

// latestReleaseLocked is the newest release of app, promoted or not: the
// one a new release forks.
func (rk *Rack) latestReleaseLocked(app string) *Release {
	for i := len(rk.releases) - 1; i >= 0; i-- {
		if rk.releases[i].App == app {
			return rk.releases[i]
		}
	}
	return nil
}

func (rk *Rack) releaseLocked(app, id string) *Release {
	for _, r := range rk.releases {
		if r.App == app && r.ID == id {
			return r
		}
	}
	return nil
}

func (rk *Rack) buildLocked(app, id string) *rackBuild {
	for _, b := range rk.builds {
		if b.App == app && b.ID == id {
			return b
		}
	}
	return nil
}

func (rk *Rack) processLocked(app, pid string) *rackProcess {
	for _, p := range rk.processes {
		if p.App == app && p.ID == pid {
			return p
		}
	}
	return nil
}

// newReleaseLocked stores a release and logs it, like the rack's
// ReleaseCreate. The env is rendered to text, so the caller's map is not
// shared.
func (rk *Rack) newReleaseLocked(app, buildID, manifest, description string, env map[string]string) *Release {
	r := &Release{
		ID: convoxID("R"), App: app, Build: buildID, Env: FormatEnv(env), Manifest: manifest,
		Description: description, Created: rk.now().UTC(),
	}
	rk.releases = append(rk.releases, r)
	rk.appendLogLocked(app, "system/k8s", "release "+r.ID+" created", rk.now())
	return r
}

// spawnLocked starts a service process for release.
func (rk *Rack) spawnLocked(a *rackApp, svc *Service, release, command string, oneOff bool) *rackProcess {
	inst := rk.instances[len(rk.processes)%len(rk.instances)]
	p := &rackProcess{Process: Process{
		ID: newProcessID(svc.Name), App: a.name, Command: command, CPU: 0.01, Host: inst.PrivateIP,
		Image: "registry." + rackDomain + "/" + a.name + ":" + svc.Name, Instance: inst.ID,
		Memory: 0.1, Name: svc.Name, Ports: servicePortStrings(svc), Release: release,
		Started: rk.now().UTC(), Status: "running",
	}, oneOff: oneOff}
	rk.processes = append(rk.processes, p)
	rk.appendLogLocked(a.name, "service/"+svc.Name+"/"+p.ID, "starting: "+firstNonEmpty(command, "(default command)"), rk.now())
	return p
}

// rolloutLocked replaces the service processes of a (all services, or
// only the named one) with count fresh ones on release: a restart, scale
// or promote.
func (rk *Rack) rolloutLocked(a *rackApp, only, release string) {
	kept := rk.processes[:0]
	for _, p := range rk.processes {
		if p.App == a.name && !p.oneOff && (only == "" || p.Name == only) {
			continue
		}
		kept = append(kept, p)
	}
	rk.processes = kept
	for _, svc := range a.services {
		if only != "" && svc.Name != only {
			continue
		}
		for i := 0; i < svc.Count; i++ {
			rk.spawnLocked(a, svc, release, "", false)
		}
	}
}

func (rk *Rack) appendLogLocked(app, source, text string, at time.Time) {
	lines := append(rk.logs[app], logLine{at: at.UTC(), source: source, text: text})
	if len(lines) > maxLogLines {
		lines = lines[len(lines)-maxLogLines:]
	}
	rk.logs[app] = lines
}

// takeDropLocked consumes one armed DropNextWebSocket.
func (rk *Rack) takeDropLocked() bool {
	if rk.dropWS > 0 {
		rk.dropWS--
		return true
	}
	return false
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func filterSlice[T any](in []T, keep func(T) bool) []T {
	out := in[:0]
	for _, v := range in {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}
