package convoxfake

import (
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Handlers for apps, services, processes, the system and instances. They
// implement the Convox side only: whoever may call them was decided in
// front of the rack.

var appNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,29}$`)

func (rk *Rack) appList(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
	rk.mu.Lock()
	views := make([]App, 0, len(rk.apps))
	for _, a := range rk.apps {
		views = append(views, a.read())
	}
	rk.mu.Unlock()
	sort.Slice(views, func(i, j int) bool { return views[i].Name < views[j].Name })
	WriteJSON(w, http.StatusOK, views)
}

func (rk *Rack) appGet(w http.ResponseWriter, _ *http.Request, vars map[string]string) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	if a := rk.appOr404(w, vars["name"]); a != nil {
		WriteJSON(w, http.StatusOK, a.read())
	}
}

// appCreate is POST /apps (form name, generation, timeout). The new app
// reports "creating" to its first read, like a rack provisioning it.
func (rk *Rack) appCreate(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	if !parseForm(w, r) {
		return
	}
	name := r.FormValue("name")
	if !appNameRE.MatchString(name) {
		writeError(w, http.StatusBadRequest, "invalid app name: "+name)
		return
	}
	rk.mu.Lock()
	defer rk.mu.Unlock()
	if _, ok := rk.apps[name]; ok {
		writeError(w, http.StatusConflict, "app already exists: "+name)
		return
	}
	a := &rackApp{
		name: name, generation: firstNonEmpty(r.FormValue("generation"), "2"),
		parameters: map[string]string{"BuildCpu": "256", "BuildMem": "1024", "BuildLabels": ""},
	}
	a.setTransient("creating")
	rk.apps[name] = a
	rk.appendLogLocked(name, "system/k8s", "app created", rk.now())
	WriteJSON(w, http.StatusOK, a.view())
}

// appUpdate is PUT /apps/{name}: form lock=true|false and parameters
// (itself url-encoded K=V pairs, as stdsdk sends a map).
func (rk *Rack) appUpdate(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	if !parseForm(w, r) {
		return
	}
	rk.mu.Lock()
	defer rk.mu.Unlock()
	a := rk.appOr404(w, vars["name"])
	if a == nil {
		return
	}
	if v := r.FormValue("lock"); v != "" {
		lock, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid lock: "+v)
			return
		}
		a.locked = lock
	}
	if raw := r.FormValue("parameters"); raw != "" {
		params, err := url.ParseQuery(raw)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid parameters")
			return
		}
		for k := range params {
			a.parameters[k] = params.Get(k)
		}
		a.setTransient("updating")
	}
	writeOK(w)
}

// appDelete is DELETE /apps/{name}. A locked app refuses, as on a rack;
// any policy about deleting at all is the gateway's.
func (rk *Rack) appDelete(w http.ResponseWriter, _ *http.Request, vars map[string]string) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	a := rk.appOr404(w, vars["name"])
	if a == nil {
		return
	}
	if a.locked {
		writeError(w, http.StatusBadRequest, "app is locked: "+a.name)
		return
	}
	delete(rk.apps, a.name)
	delete(rk.logs, a.name)
	rk.releases = filterSlice(rk.releases, func(r *Release) bool { return r.App != a.name })
	rk.builds = filterSlice(rk.builds, func(b *rackBuild) bool { return b.App != a.name })
	rk.processes = filterSlice(rk.processes, func(p *rackProcess) bool { return p.App != a.name })
	for k := range rk.objects {
		if strings.HasPrefix(k, a.name+"/") {
			delete(rk.objects, k)
		}
	}
	writeOK(w)
}

// appRestart is POST /apps/{app}/restart: every service process is
// replaced on the current release.
func (rk *Rack) appRestart(w http.ResponseWriter, _ *http.Request, vars map[string]string) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	if a := rk.appOr404(w, vars["app"]); a != nil {
		rk.rolloutLocked(a, "", a.release)
		writeOK(w)
	}
}

func (rk *Rack) serviceList(w http.ResponseWriter, _ *http.Request, vars map[string]string) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	a := rk.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	out := make([]Service, 0, len(a.services))
	for _, svc := range a.services {
		out = append(out, *svc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	WriteJSON(w, http.StatusOK, out)
}

// serviceUpdate is PUT /apps/{app}/services/{name} (scale): form count,
// cpu, memory. The app reports "updating" once.
func (rk *Rack) serviceUpdate(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	if !parseForm(w, r) {
		return
	}
	fields := map[string]*int{}
	for _, k := range []string{"count", "cpu", "memory"} {
		v := r.FormValue(k)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "invalid "+k+": "+v)
			return
		}
		fields[k] = &n
	}
	rk.mu.Lock()
	defer rk.mu.Unlock()
	a := rk.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	svc := a.service(vars["name"])
	if svc == nil {
		writeError(w, http.StatusNotFound, "no such service: "+vars["name"])
		return
	}
	if n := fields["count"]; n != nil {
		svc.Count = *n
	}
	if n := fields["cpu"]; n != nil {
		svc.CPU = *n
	}
	if n := fields["memory"]; n != nil {
		svc.Memory = *n
	}
	rk.rolloutLocked(a, svc.Name, a.release)
	a.setTransient("updating")
	writeOK(w)
}

func (rk *Rack) serviceRestart(w http.ResponseWriter, _ *http.Request, vars map[string]string) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	a := rk.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	if a.service(vars["service"]) == nil {
		writeError(w, http.StatusNotFound, "no such service: "+vars["service"])
		return
	}
	rk.rolloutLocked(a, vars["service"], a.release)
	writeOK(w)
}

// processList is GET /apps/{app}/processes[?service=][&release=], sorted
// like Convox (service name, then id).
func (rk *Rack) processList(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	q := r.URL.Query()
	rk.mu.Lock()
	defer rk.mu.Unlock()
	if rk.appOr404(w, vars["app"]) == nil {
		return
	}
	out := []Process{}
	for _, p := range rk.processes {
		if p.App != vars["app"] || (q.Get("service") != "" && p.Name != q.Get("service")) ||
			(q.Get("release") != "" && p.Release != q.Get("release")) {
			continue
		}
		out = append(out, p.Process)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name+"-"+out[i].ID < out[j].Name+"-"+out[j].ID })
	WriteJSON(w, http.StatusOK, out)
}

func (rk *Rack) processGet(w http.ResponseWriter, _ *http.Request, vars map[string]string) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	if rk.appOr404(w, vars["app"]) == nil {
		return
	}
	if p := rk.processOr404(w, vars["app"], vars["pid"]); p != nil {
		WriteJSON(w, http.StatusOK, p.Process)
	}
}

// processStop is DELETE /apps/{app}/processes/{pid}. A stopped service
// process is replaced, as its deployment would; a one-off `run` process
// just ends.
func (rk *Rack) processStop(w http.ResponseWriter, _ *http.Request, vars map[string]string) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	a := rk.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	p := rk.processOr404(w, a.name, vars["pid"])
	if p == nil {
		return
	}
	rk.processes = filterSlice(rk.processes, func(q *rackProcess) bool { return q != p })
	rk.appendLogLocked(a.name, "service/"+p.Name+"/"+p.ID, "stopped", rk.now())
	if svc := a.service(p.Name); svc != nil && !p.oneOff {
		rk.spawnLocked(a, svc, p.Release, "", false)
	}
	writeOK(w)
}

// processRun is POST /apps/{app}/services/{service}/processes: a one-off
// process running the Command header on the Release header's release
// (default: the app's current one), with the Environment header's
// variables (url-encoded K=V pairs, as stdsdk sends a map) added to the
// release's env. It is "running" at once.
func (rk *Rack) processRun(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	extra := map[string]string{}
	if raw := r.Header.Get("Environment"); raw != "" {
		q, err := url.ParseQuery(raw)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid environment")
			return
		}
		for k := range q {
			extra[k] = q.Get(k)
		}
	}
	rk.mu.Lock()
	defer rk.mu.Unlock()
	a := rk.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	svc := a.service(vars["service"])
	if svc == nil {
		writeError(w, http.StatusNotFound, "no such service: "+vars["service"])
		return
	}
	release := firstNonEmpty(r.Header.Get("Release"), a.release)
	if release != "" && rk.releaseLocked(a.name, release) == nil {
		writeError(w, http.StatusNotFound, "no such release: "+release)
		return
	}
	proc := rk.spawnLocked(a, svc, release, r.Header.Get("Command"), true)
	proc.env = extra
	WriteJSON(w, http.StatusOK, proc.Process)
}

func (rk *Rack) instanceList(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
	rk.mu.Lock()
	out := append([]Instance{}, rk.instances...)
	rk.mu.Unlock()
	WriteJSON(w, http.StatusOK, out)
}

func (rk *Rack) instanceGet(w http.ResponseWriter, _ *http.Request, vars map[string]string) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	for _, inst := range rk.instances {
		if inst.ID == vars["id"] {
			WriteJSON(w, http.StatusOK, inst)
			return
		}
	}
	writeError(w, http.StatusNotFound, "no such instance: "+vars["id"])
}
