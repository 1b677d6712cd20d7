package convoxfake

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The deploy half of the rack: objects, builds, releases and promotion.

// objectStore is POST /apps/{app}/objects/tmp/{name}: the body is kept
// whole and the answer is the object:// URL builds refer to.
func (rk *Rack) objectStore(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxObjectBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "object too large")
			return
		}
		writeError(w, http.StatusBadRequest, "could not read object: "+err.Error())
		return
	}
	rk.mu.Lock()
	defer rk.mu.Unlock()
	if rk.appOr404(w, vars["app"]) == nil {
		return
	}
	key := vars["app"] + "/tmp/" + vars["name"]
	rk.objects[key] = body
	WriteJSON(w, http.StatusOK, map[string]string{"url": "object://" + key})
}

// buildOutput is what a build "prints"; streamed by builds/{id}/logs and
// kept in the build's logs field.
func buildOutput(b *rackBuild) []string {
	return []string{
		"Building: .",
		"Source: " + firstNonEmpty(b.url, "(external)"),
		"Step 1/3 : FROM sandbox/base:latest",
		"Step 2/3 : COPY . /app",
		"Step 3/3 : CMD [\"bin/web\"]",
		"Successfully built " + strings.ToLower(b.ID[1:]),
		"Pushing: registry." + rackDomain + "/" + b.App + ":" + b.ID,
	}
}

// buildCreate is POST /apps/{app}/builds (form url, description, git-sha,
// manifest). The answer says "created"; from then on the build is
// "running" until its logs have been streamed to the end or one status
// poll has seen it running, and then "complete" with a new release.
func (rk *Rack) buildCreate(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	if !parseForm(w, r) {
		return
	}
	rk.mu.Lock()
	defer rk.mu.Unlock()
	a := rk.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	b := rk.newBuildLocked(a, r.FormValue("url"), r.FormValue("description"), r.FormValue("git-sha"))
	view := b.Build
	view.Status = "created"
	WriteJSON(w, http.StatusOK, view)
}

func (rk *Rack) newBuildLocked(a *rackApp, url, description, sha string) *rackBuild {
	b := &rackBuild{Build: Build{
		ID: convoxID("B"), App: a.name, Description: description, GitSHA: sha,
		Manifest: manifestFor(withDefaultService(a)), Repository: "registry." + rackDomain + "/" + a.name,
		Status: "running", Started: rk.now().UTC(),
	}, url: url}
	if url == "" {
		// An external build: the client builds and pushes itself and then
		// updates the build (PUT), so it never progresses on its own.
		b.Status = "created"
	}
	b.output = buildOutput(b)
	b.Logs = strings.Join(b.output, "\n") + "\n"
	rk.builds = append(rk.builds, b)
	rk.appendLogLocked(a.name, "build/"+b.ID, "build started", rk.now())
	return b
}

// withDefaultService gives an app without services (a fresh one) the
// single "web" service a first build would bring, so builds and promotes
// of new apps behave like the seeded one.
func withDefaultService(a *rackApp) *rackApp {
	if len(a.services) == 0 {
		a.services = []*Service{{Count: 1, CPU: 256, Memory: 512, Name: "web",
			Domain: "web." + a.name + "." + rackDomain, Ports: []ServicePort{{Balancer: 443, Container: 3000}}}}
	}
	return a
}

// completeBuildLocked finishes a running build: a release on the app's
// latest env, or "failed" when its object was never uploaded. It returns
// the completion for the caller to report once the lock is released.
func (rk *Rack) completeBuildLocked(b *rackBuild) *BuildCompletion {
	if b.Status != "running" {
		return nil
	}
	now := rk.now().UTC()
	b.Ended = now
	if key, ok := strings.CutPrefix(b.url, "object://"); ok {
		if _, stored := rk.objects[key]; !stored {
			b.Status, b.Reason = "failed", "object not found: "+b.url
			b.output = append(b.output, "ERROR: object not found: "+b.url)
			b.Logs = strings.Join(b.output, "\n") + "\n"
			return nil
		}
	}
	env := map[string]string{}
	if base := rk.latestReleaseLocked(b.App); base != nil {
		env = ParseEnv(base.Env)
	}
	rel := rk.newReleaseLocked(b.App, b.ID, b.Manifest, b.Description, env)
	b.Release, b.Status = rel.ID, "complete"
	b.output = append(b.output, "Build complete: "+b.ID)
	b.Logs = strings.Join(b.output, "\n") + "\n"
	return &BuildCompletion{App: b.App, Build: b.ID, Release: rel.ID, At: now}
}

// report tells the gateway of a completion. The caller must not hold
// rk.mu: the gateway takes its own lock and may call back.
func (rk *Rack) report(c *BuildCompletion) {
	if c != nil && rk.cfg.OnBuildComplete != nil {
		rk.cfg.OnBuildComplete(*c)
	}
}

// buildGet is GET /apps/{app}/builds/{id} (the export, {id}.tgz, has a
// route of its own: apps_manage.go). A poll that sees "running" lets the
// build complete for the next one.
func (rk *Rack) buildGet(w http.ResponseWriter, _ *http.Request, vars map[string]string) {
	rk.mu.Lock()
	if rk.appOr404(w, vars["app"]) == nil {
		rk.mu.Unlock()
		return
	}
	b := rk.buildOr404(w, vars["app"], vars["id"])
	if b == nil {
		rk.mu.Unlock()
		return
	}
	view := b.Build
	done := rk.completeBuildLocked(b)
	rk.mu.Unlock()
	rk.report(done)
	WriteJSON(w, http.StatusOK, view)
}

// listLimit reads ?limit=N (default defaultListLimit).
func listLimit(r *http.Request) int {
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 {
		return n
	}
	return defaultListLimit
}

func (rk *Rack) buildList(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	limit := listLimit(r)
	rk.mu.Lock()
	defer rk.mu.Unlock()
	if rk.appOr404(w, vars["app"]) == nil {
		return
	}
	out := []Build{}
	for i := len(rk.builds) - 1; i >= 0 && len(out) < limit; i-- {
		if b := rk.builds[i]; b.App == vars["app"] {
			out = append(out, b.Build)
		}
	}
	WriteJSON(w, http.StatusOK, out)
}

// buildUpdate is PUT /apps/{app}/builds/{id}, used by external builds:
// form release, manifest, status, logs, entrypoint, started, ended.
func (rk *Rack) buildUpdate(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	if !parseForm(w, r) {
		return
	}
	rk.mu.Lock()
	defer rk.mu.Unlock()
	if rk.appOr404(w, vars["app"]) == nil {
		return
	}
	b := rk.buildOr404(w, vars["app"], vars["id"])
	if b == nil {
		return
	}
	for field, dst := range map[string]*string{"release": &b.Release, "manifest": &b.Manifest,
		"status": &b.Status, "logs": &b.Logs, "entrypoint": &b.Entrypoint} {
		if _, ok := r.Form[field]; ok {
			*dst = r.FormValue(field)
		}
	}
	for field, dst := range map[string]*time.Time{"started": &b.Started, "ended": &b.Ended} {
		if v := r.FormValue(field); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, "invalid "+field+": "+v)
				return
			}
			*dst = t
		}
	}
	WriteJSON(w, http.StatusOK, b.Build)
}

// releaseList is GET /apps/{app}/releases[?limit=N], newest first.
func (rk *Rack) releaseList(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	limit := listLimit(r)
	rk.mu.Lock()
	defer rk.mu.Unlock()
	a := rk.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	out := []Release{}
	for i := len(rk.releases) - 1; i >= 0 && len(out) < limit; i-- {
		if rel := rk.releases[i]; rel.App == a.name {
			out = append(out, *rel)
		}
	}
	WriteJSON(w, http.StatusOK, out)
}

func (rk *Rack) releaseGet(w http.ResponseWriter, _ *http.Request, vars map[string]string) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	a := rk.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	if rel := rk.releaseOr404(w, a.name, vars["id"]); rel != nil {
		WriteJSON(w, http.StatusOK, rel)
	}
}

// releaseCreate is POST /apps/{app}/releases (form env, build,
// description). Like the rack, the release forks the latest one: its
// build, manifest and env, each replaced by what the form gives. A posted
// env is the whole env of the new release.
func (rk *Rack) releaseCreate(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	if !parseForm(w, r) {
		return
	}
	rk.mu.Lock()
	defer rk.mu.Unlock()
	a := rk.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	env, buildID, manifest := map[string]string{}, "", ""
	if base := rk.latestReleaseLocked(a.name); base != nil {
		env, buildID, manifest = ParseEnv(base.Env), base.Build, base.Manifest
	}
	if id := r.FormValue("build"); id != "" {
		b := rk.buildOr404(w, a.name, id)
		if b == nil {
			return
		}
		buildID, manifest = b.ID, b.Manifest
	}
	if _, posted := r.Form["env"]; posted {
		env = ParseEnv(r.FormValue("env"))
	}
	WriteJSON(w, http.StatusOK, rk.newReleaseLocked(a.name, buildID, manifest, r.FormValue("description"), env))
}

// releasePromote is POST /apps/{app}/releases/{id}/promote: the app moves
// to the release, its processes roll over, and it reports "updating" to
// one read before "running".
func (rk *Rack) releasePromote(w http.ResponseWriter, _ *http.Request, vars map[string]string) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	a := rk.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	rel := rk.releaseOr404(w, a.name, vars["id"])
	if rel == nil {
		return
	}
	withDefaultService(a)
	a.release = rel.ID
	rk.rolloutLocked(a, "", rel.ID)
	a.setTransient("updating")
	rk.appendLogLocked(a.name, "system/k8s", "release "+rel.ID+" promoted", rk.now())
	writeOK(w)
}

// BuildSource is the source archive build id of app was built from (the
// object its url names), and false when the build has none stored: what
// the client packaged, for tests of the packaging.
func (rk *Rack) BuildSource(app, id string) ([]byte, bool) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	b := rk.buildLocked(app, id)
	if b == nil {
		return nil, false
	}
	data, ok := rk.objects[strings.TrimPrefix(b.url, "object://")]
	return data, ok
}
