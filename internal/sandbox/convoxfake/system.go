package convoxfake

import (
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The rack's own routes: GET and PUT /system, its capacity, metrics,
// processes and versions. PUT /system is what `rack params set`, `rack
// scale` and `rack update` send; like a real rack, each change makes the
// rack report "updating" (here: to exactly one read of GET /system, so a
// client's wait loop sees it once without the rack running timers), adds
// a line to the rack's log, and an update adds a version to the rack's
// release history.

// systemState is what the rack keeps about itself beyond System.
type systemState struct {
	releases []Release // the rack's versions, newest first
	settle   bool      // the status is transient: running after one read
}

// seedSystemLocked gives the seeded rack its parameters and the version
// it was installed with, a day after its instances started. Caller holds
// rk.mu.
func (rk *Rack) seedSystemLocked(started time.Time) {
	// A v3 rack's parameters are its install options, snake_case.
	rk.system.Parameters = map[string]string{
		"high_availability": "false",
		"node_type":         rk.system.Type,
		"rack_name":         Name,
		"telemetry":         "false",
	}
	rk.sys = systemState{releases: []Release{{ID: rk.system.Version, App: Name, Created: started.Add(24 * time.Hour)}}}
}

// System is the rack as GET /system shows it, without counting as a read
// (a transient status stays as it is).
func (rk *Rack) System() System {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	s := rk.system
	s.Parameters = maps.Clone(rk.system.Parameters)
	return s
}

func (rk *Rack) systemGet(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
	rk.mu.Lock()
	sys := rk.system
	sys.Parameters = maps.Clone(rk.system.Parameters)
	if rk.sys.settle {
		rk.system.Status, rk.sys.settle = "running", false
	}
	rk.mu.Unlock()
	WriteJSON(w, http.StatusOK, sys)
}

// systemUpdate is PUT /system: form count, type, version, and parameters
// (the Convox SDK sends them as one url-encoded field, "a=1&b=2"). An
// invalid field changes nothing.
func (rk *Rack) systemUpdate(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	if !parseForm(w, r) {
		return
	}
	count := 0
	if v := r.FormValue("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "invalid count: "+v)
			return
		}
		count = n
	}
	params, err := url.ParseQuery(r.FormValue("parameters"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid parameters")
		return
	}
	typ, version := r.FormValue("type"), strings.TrimSpace(r.FormValue("version"))
	rk.mu.Lock()
	defer rk.mu.Unlock()
	now := rk.now().UTC()
	var changes []string
	if count > 0 {
		rk.system.Count = count
		changes = append(changes, "count="+strconv.Itoa(count))
	}
	if typ != "" {
		rk.system.Type = typ
		if _, ok := rk.system.Parameters["node_type"]; ok {
			rk.system.Parameters["node_type"] = typ
		}
		changes = append(changes, "type="+typ)
	}
	if len(params) > 0 {
		keys := make([]string, 0, len(params))
		for k := range params {
			rk.system.Parameters[k] = params.Get(k)
			keys = append(keys, k)
		}
		sort.Strings(keys)
		changes = append(changes, "parameters "+strings.Join(keys, ","))
	}
	if version != "" {
		rk.system.Version = version
		rk.sys.releases = append([]Release{{ID: version, App: Name, Created: now}}, rk.sys.releases...)
		changes = append(changes, "version="+version)
	}
	if len(changes) > 0 {
		rk.system.Status, rk.sys.settle = "updating", true
		rk.appendLogLocked("", "system/rack", "rack update: "+strings.Join(changes, " "), now)
	}
	writeOK(w)
}

func (rk *Rack) systemCapacity(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
	rk.mu.Lock()
	procs := 0
	var mem int64
	for _, p := range rk.processes {
		procs++
		if a := rk.apps[p.App]; a != nil {
			if svc := a.service(p.Name); svc != nil {
				mem += int64(svc.Memory)
			}
		}
	}
	n := int64(len(rk.instances))
	rk.mu.Unlock()
	WriteJSON(w, http.StatusOK, map[string]int64{
		"cluster-cpu": 2048 * n, "cluster-memory": 2048 * n, "instance-cpu": 2048, "instance-memory": 2048,
		"process-count": int64(procs), "process-memory": mem, "process-width": 1,
	})
}

func (rk *Rack) systemMetrics(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
	WriteJSON(w, http.StatusOK, []any{})
}

// systemProcesses lists the rack's own processes (api, router), running
// the rack's version; with ?all=true every app's processes follow them,
// as a rack lists all its namespaces.
func (rk *Rack) systemProcesses(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	all, _ := strconv.ParseBool(r.URL.Query().Get("all"))
	rk.mu.Lock()
	started := rk.instances[0].Started
	version := rk.system.Version
	out := []Process{}
	for i, name := range []string{"api", "router"} {
		inst := rk.instances[i%len(rk.instances)]
		out = append(out, Process{
			ID: name + "-" + []string{"5c9d7f", "2b8e4a"}[i], App: "system", Name: name, CPU: 0.02,
			Host: inst.PrivateIP, Image: "convox/convox:" + version, Instance: inst.ID, Memory: 0.1,
			Ports: []string{}, Release: version, Started: started, Status: "running",
		})
	}
	if all {
		for _, p := range rk.processes {
			out = append(out, p.Process)
		}
	}
	rk.mu.Unlock()
	WriteJSON(w, http.StatusOK, out)
}

// systemReleases lists the rack's versions, newest first, the way Convox
// reports a rack's own update history.
func (rk *Rack) systemReleases(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
	rk.mu.Lock()
	out := append([]Release{}, rk.sys.releases...)
	rk.mu.Unlock()
	WriteJSON(w, http.StatusOK, out)
}
