package sandbox

import (
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Rack handlers for apps, services, processes, the system and instances.
// They run after every proxy check (§6.2), so they only implement the
// Convox side: state changes and Convox-shaped answers.

var appNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,29}$`)

func handleAppList(s *Server, w http.ResponseWriter, _ *http.Request, _ *principal, _ map[string]string) {
	s.mu.Lock()
	views := make([]appView, 0, len(s.rack.apps))
	for _, a := range s.rack.apps {
		views = append(views, a.readLocked())
	}
	s.mu.Unlock()
	sort.Slice(views, func(i, j int) bool { return views[i].Name < views[j].Name })
	writeConvoxJSON(w, http.StatusOK, views)
}

func handleAppGet(s *Server, w http.ResponseWriter, _ *http.Request, _ *principal, vars map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.appOr404(w, vars["name"]); a != nil {
		writeConvoxJSON(w, http.StatusOK, a.readLocked())
	}
}

// handleAppCreate is POST /apps (form name, generation, timeout). The new
// app reports "creating" to its first read, like a rack provisioning it.
func handleAppCreate(s *Server, w http.ResponseWriter, r *http.Request, _ *principal, _ map[string]string) {
	if !parseForm(w, r) {
		return
	}
	name := r.FormValue("name")
	if !appNameRE.MatchString(name) {
		writeConvoxError(w, http.StatusBadRequest, "invalid app name: "+name)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rack.apps[name]; ok {
		writeConvoxError(w, http.StatusConflict, "app already exists: "+name)
		return
	}
	a := &rackApp{
		name: name, generation: firstNonEmpty(r.FormValue("generation"), "2"),
		parameters: map[string]string{"BuildCpu": "256", "BuildMem": "1024", "BuildLabels": ""},
	}
	a.setTransient("creating")
	s.rack.apps[name] = a
	s.appendLogLocked(name, "system/k8s", "app created", s.now())
	writeConvoxJSON(w, http.StatusOK, a.viewLocked())
}

// handleAppUpdate is PUT /apps/{name}: form lock=true|false and
// parameters (itself url-encoded K=V pairs, as stdsdk sends a map).
func handleAppUpdate(s *Server, w http.ResponseWriter, r *http.Request, _ *principal, vars map[string]string) {
	if !parseForm(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appOr404(w, vars["name"])
	if a == nil {
		return
	}
	if v := r.FormValue("lock"); v != "" {
		lock, err := strconv.ParseBool(v)
		if err != nil {
			writeConvoxError(w, http.StatusBadRequest, "invalid lock: "+v)
			return
		}
		a.locked = lock
	}
	if raw := r.FormValue("parameters"); raw != "" {
		params, err := url.ParseQuery(raw)
		if err != nil {
			writeConvoxError(w, http.StatusBadRequest, "invalid parameters")
			return
		}
		for k := range params {
			a.parameters[k] = params.Get(k)
		}
		a.setTransient("updating")
	}
	writeConvoxOK(w)
}

// handleAppDelete is DELETE /apps/{name}. The proxy has already applied
// the destructive-action policy; a locked app refuses, as on a rack.
func handleAppDelete(s *Server, w http.ResponseWriter, _ *http.Request, _ *principal, vars map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appOr404(w, vars["name"])
	if a == nil {
		return
	}
	if a.locked {
		writeConvoxError(w, http.StatusBadRequest, "app is locked: "+a.name)
		return
	}
	delete(s.rack.apps, a.name)
	delete(s.rack.logs, a.name)
	s.rack.releases = filterSlice(s.rack.releases, func(r *rackRelease) bool { return r.App != a.name })
	s.rack.builds = filterSlice(s.rack.builds, func(b *rackBuild) bool { return b.App != a.name })
	s.rack.processes = filterSlice(s.rack.processes, func(p *rackProcess) bool { return p.App != a.name })
	for k := range s.rack.objects {
		if strings.HasPrefix(k, a.name+"/") {
			delete(s.rack.objects, k)
		}
	}
	writeConvoxOK(w)
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

// handleAppRestart is POST /apps/{app}/restart: every service process is
// replaced on the current release.
func handleAppRestart(s *Server, w http.ResponseWriter, _ *http.Request, _ *principal, vars map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.appOr404(w, vars["app"]); a != nil {
		s.rolloutLocked(a, "", a.release)
		writeConvoxOK(w)
	}
}

func handleServiceList(s *Server, w http.ResponseWriter, _ *http.Request, _ *principal, vars map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	out := make([]rackService, 0, len(a.services))
	for _, svc := range a.services {
		out = append(out, *svc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeConvoxJSON(w, http.StatusOK, out)
}

// handleServiceUpdate is PUT /apps/{app}/services/{name} (scale): form
// count, cpu, memory. The app reports "updating" once.
func handleServiceUpdate(s *Server, w http.ResponseWriter, r *http.Request, _ *principal, vars map[string]string) {
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
			writeConvoxError(w, http.StatusBadRequest, "invalid "+k+": "+v)
			return
		}
		fields[k] = &n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	svc := a.service(vars["name"])
	if svc == nil {
		writeConvoxError(w, http.StatusNotFound, "no such service: "+vars["name"])
		return
	}
	if n := fields["count"]; n != nil {
		svc.Count = *n
	}
	if n := fields["cpu"]; n != nil {
		svc.Cpu = *n
	}
	if n := fields["memory"]; n != nil {
		svc.Memory = *n
	}
	s.rolloutLocked(a, svc.Name, a.release)
	a.setTransient("updating")
	writeConvoxOK(w)
}

func handleServiceRestart(s *Server, w http.ResponseWriter, _ *http.Request, _ *principal, vars map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	if a.service(vars["service"]) == nil {
		writeConvoxError(w, http.StatusNotFound, "no such service: "+vars["service"])
		return
	}
	s.rolloutLocked(a, vars["service"], a.release)
	writeConvoxOK(w)
}

// handleProcessList is GET /apps/{app}/processes[?service=][&release=],
// sorted like Convox (service name, then id).
func handleProcessList(s *Server, w http.ResponseWriter, r *http.Request, _ *principal, vars map[string]string) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.appOr404(w, vars["app"]) == nil {
		return
	}
	out := []rackProcess{}
	for _, p := range s.rack.processes {
		if p.App != vars["app"] || (q.Get("service") != "" && p.Name != q.Get("service")) ||
			(q.Get("release") != "" && p.Release != q.Get("release")) {
			continue
		}
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name+"-"+out[i].Id < out[j].Name+"-"+out[j].Id })
	writeConvoxJSON(w, http.StatusOK, out)
}

func handleProcessGet(s *Server, w http.ResponseWriter, _ *http.Request, _ *principal, vars map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.appOr404(w, vars["app"]) == nil {
		return
	}
	if p := s.processOr404(w, vars["app"], vars["pid"]); p != nil {
		writeConvoxJSON(w, http.StatusOK, p)
	}
}

func (s *Server) processOr404(w http.ResponseWriter, app, pid string) *rackProcess {
	p := s.processLocked(app, pid)
	if p == nil {
		writeConvoxError(w, http.StatusNotFound, "no such process: "+pid)
	}
	return p
}

// handleProcessStop is DELETE /apps/{app}/processes/{pid}. A stopped
// service process is replaced, as its deployment would; a one-off `run`
// process just ends.
func handleProcessStop(s *Server, w http.ResponseWriter, _ *http.Request, _ *principal, vars map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	p := s.processOr404(w, a.name, vars["pid"])
	if p == nil {
		return
	}
	s.rack.processes = filterSlice(s.rack.processes, func(q *rackProcess) bool { return q != p })
	s.appendLogLocked(a.name, "service/"+p.Name+"/"+p.Id, "stopped", s.now())
	if svc := a.service(p.Name); svc != nil && !p.oneOff {
		s.spawnLocked(a, svc, p.Release, "", false)
	}
	writeConvoxOK(w)
}

// handleProcessRun is POST /apps/{app}/services/{service}/processes: a
// one-off process running the Command header on the Release header's
// release (default: the app's current one). It is "running" at once.
func handleProcessRun(s *Server, w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	svc := a.service(vars["service"])
	if svc == nil {
		writeConvoxError(w, http.StatusNotFound, "no such service: "+vars["service"])
		return
	}
	release := firstNonEmpty(r.Header.Get("Release"), a.release)
	if release != "" && s.releaseLocked(a.name, release) == nil {
		writeConvoxError(w, http.StatusNotFound, "no such release: "+release)
		return
	}
	proc := s.spawnLocked(a, svc, release, r.Header.Get("Command"), true)
	s.noteApprovalLocked(p, func(d *deployApproval) { d.ProcessIDs = append(d.ProcessIDs, proc.Id) })
	writeConvoxJSON(w, http.StatusOK, proc)
}

// systemProcessesLocked lists the rack's own processes for GET
// /system/processes.
func (s *Server) systemProcessesLocked() []rackProcess {
	started := s.rack.instances[0].Started
	out := []rackProcess{}
	for i, name := range []string{"api", "router"} {
		inst := s.rack.instances[i%len(s.rack.instances)]
		out = append(out, rackProcess{
			Id: name + "-" + []string{"5c9d7f", "2b8e4a"}[i], App: "system", Name: name, Cpu: 0.02,
			Host: inst.PrivateIp, Image: "convox/convox:" + rackVersion, Instance: inst.Id, Memory: 0.1,
			Ports: []string{}, Release: rackVersion, Started: started, Status: "running",
		})
	}
	return out
}

func handleSystemGet(s *Server, w http.ResponseWriter, _ *http.Request, _ *principal, _ map[string]string) {
	s.mu.Lock()
	sys := s.rack.system
	s.mu.Unlock()
	writeConvoxJSON(w, http.StatusOK, sys)
}

// handleSystemUpdate is PUT /system (rack scale/update): form count, type,
// version. Parameters are accepted and ignored.
func handleSystemUpdate(s *Server, w http.ResponseWriter, r *http.Request, _ *principal, _ map[string]string) {
	if !parseForm(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := r.FormValue("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeConvoxError(w, http.StatusBadRequest, "invalid count: "+v)
			return
		}
		s.rack.system.Count = n
	}
	if v := r.FormValue("type"); v != "" {
		s.rack.system.Type = v
	}
	if v := r.FormValue("version"); v != "" {
		s.rack.system.Version = v
	}
	s.appendLogLocked("", "system/rack", "rack updated", s.now())
	writeConvoxOK(w)
}

func handleSystemCapacity(s *Server, w http.ResponseWriter, _ *http.Request, _ *principal, _ map[string]string) {
	s.mu.Lock()
	procs := 0
	var mem int64
	for _, p := range s.rack.processes {
		procs++
		if a := s.rack.apps[p.App]; a != nil {
			if svc := a.service(p.Name); svc != nil {
				mem += int64(svc.Memory)
			}
		}
	}
	n := int64(len(s.rack.instances))
	s.mu.Unlock()
	writeConvoxJSON(w, http.StatusOK, map[string]int64{
		"cluster-cpu": 2048 * n, "cluster-memory": 2048 * n, "instance-cpu": 2048, "instance-memory": 2048,
		"process-count": int64(procs), "process-memory": mem, "process-width": 1,
	})
}

func handleSystemMetrics(_ *Server, w http.ResponseWriter, _ *http.Request, _ *principal, _ map[string]string) {
	writeConvoxJSON(w, http.StatusOK, []any{})
}

func handleSystemProcesses(s *Server, w http.ResponseWriter, _ *http.Request, _ *principal, _ map[string]string) {
	s.mu.Lock()
	out := s.systemProcessesLocked()
	s.mu.Unlock()
	writeConvoxJSON(w, http.StatusOK, out)
}

// handleSystemReleases lists rack versions, newest first, the way Convox
// reports a rack's own update history.
func handleSystemReleases(s *Server, w http.ResponseWriter, _ *http.Request, _ *principal, _ map[string]string) {
	s.mu.Lock()
	started := s.rack.instances[0].Started
	version := s.rack.system.Version
	s.mu.Unlock()
	out := []rackRelease{{Id: version, App: rackName, Created: started.Add(time.Hour)}}
	if version != rackVersion {
		out = append(out, rackRelease{Id: rackVersion, App: rackName, Created: started})
	}
	writeConvoxJSON(w, http.StatusOK, out)
}

func handleInstanceList(s *Server, w http.ResponseWriter, _ *http.Request, _ *principal, _ map[string]string) {
	s.mu.Lock()
	out := append([]rackInstance{}, s.rack.instances...)
	s.mu.Unlock()
	writeConvoxJSON(w, http.StatusOK, out)
}

func handleInstanceGet(s *Server, w http.ResponseWriter, _ *http.Request, _ *principal, vars map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, inst := range s.rack.instances {
		if inst.Id == vars["id"] {
			writeConvoxJSON(w, http.StatusOK, inst)
			return
		}
	}
	writeConvoxError(w, http.StatusNotFound, "no such instance: "+vars["id"])
}
