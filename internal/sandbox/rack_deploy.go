package sandbox

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The deploy half of the rack: objects, builds, releases and promotion,
// plus the gateway's release-env merge (§6.4) and masking (§6.3).

// handleObjectStore is POST /apps/{app}/objects/tmp/{name}: the body is
// kept whole and the answer is the object:// URL builds refer to.
func handleObjectStore(s *Server, w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxObjectBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeConvoxError(w, http.StatusRequestEntityTooLarge, "object too large")
			return
		}
		writeConvoxError(w, http.StatusBadRequest, "could not read object: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.appOr404(w, vars["app"]) == nil {
		return
	}
	key := vars["app"] + "/tmp/" + vars["name"]
	s.rack.objects[key] = body
	u := "object://" + key
	s.noteApprovalLocked(p, func(d *deployApproval) { d.ObjectURL = u })
	writeConvoxJSON(w, http.StatusOK, map[string]string{"url": u})
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
		"Successfully built " + strings.ToLower(b.Id[1:]),
		"Pushing: registry." + rackDomain + "/" + b.App + ":" + b.Id,
	}
}

// handleBuildCreate is POST /apps/{app}/builds (form url, description,
// git-sha, manifest). The answer says "created"; from then on the build is
// "running" until its logs have been streamed to the end or one status
// poll has seen it running, and then "complete" with a new release.
func handleBuildCreate(s *Server, w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	if !parseForm(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	b := s.newBuildLocked(a, r.FormValue("url"), r.FormValue("description"), r.FormValue("git-sha"))
	s.noteApprovalLocked(p, func(d *deployApproval) { d.BuildID = b.Id })
	view := *b
	view.Status = "created"
	writeConvoxJSON(w, http.StatusOK, view)
}

func (s *Server) newBuildLocked(a *rackApp, url, description, sha string) *rackBuild {
	b := &rackBuild{
		Id: convoxID("B"), App: a.name, Description: description, GitSha: sha,
		Manifest: manifestFor(withDefaultService(a)), Repository: "registry." + rackDomain + "/" + a.name,
		Status: "running", Started: s.now().UTC(), url: url,
	}
	if url == "" {
		// An external build: the client builds and pushes itself and then
		// updates the build (PUT), so it never progresses on its own.
		b.Status = "created"
	}
	b.output = buildOutput(b)
	b.Logs = strings.Join(b.output, "\n") + "\n"
	s.rack.builds = append(s.rack.builds, b)
	s.appendLogLocked(a.name, "build/"+b.Id, "build started", s.now())
	return b
}

// withDefaultService gives an app without services (a fresh one) the
// single "web" service a first build would bring, so builds and promotes
// of new apps behave like the seeded one.
func withDefaultService(a *rackApp) *rackApp {
	if len(a.services) == 0 {
		a.services = []*rackService{{Count: 1, Cpu: 256, Memory: 512, Name: "web",
			Domain: "web." + a.name + "." + rackDomain, Ports: []servicePort{{Balancer: 443, Container: 3000}}}}
	}
	return a
}

// completeBuildLocked finishes a running build: a release on the app's
// latest env, or "failed" when its object was never uploaded.
func (s *Server) completeBuildLocked(b *rackBuild) {
	if b.Status != "running" {
		return
	}
	now := s.now().UTC()
	b.Ended = now
	if key, ok := strings.CutPrefix(b.url, "object://"); ok {
		if _, stored := s.rack.objects[key]; !stored {
			b.Status, b.Reason = "failed", "object not found: "+b.url
			b.output = append(b.output, "ERROR: object not found: "+b.url)
			b.Logs = strings.Join(b.output, "\n") + "\n"
			return
		}
	}
	env := map[string]string{}
	if base := s.latestReleaseLocked(b.App); base != nil {
		env = parseEnv(base.Env)
	}
	rel := s.newReleaseLocked(b.App, b.Id, b.Manifest, b.Description, env)
	b.Release, b.Status = rel.Id, "complete"
	b.output = append(b.output, "Build complete: "+b.Id)
	b.Logs = strings.Join(b.output, "\n") + "\n"
	for _, d := range s.approvals {
		if d.BuildID == b.Id && d.ReleaseID == "" {
			d.ReleaseID, d.ReleaseCreatedAt, d.UpdatedAt = rel.Id, &now, now
		}
	}
}

// handleBuildGet is GET /apps/{app}/builds/{id}, and the export
// /apps/{app}/builds/{id}.tgz that the same route matches. A poll that
// sees "running" lets the build complete for the next one.
func handleBuildGet(s *Server, w http.ResponseWriter, _ *http.Request, _ *principal, vars map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.appOr404(w, vars["app"]) == nil {
		return
	}
	if id, ok := strings.CutSuffix(vars["id"], ".tgz"); ok {
		b := s.buildOr404(w, vars["app"], id)
		if b == nil {
			return
		}
		data := s.rack.objects[strings.TrimPrefix(b.url, "object://")]
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(data)
		return
	}
	b := s.buildOr404(w, vars["app"], vars["id"])
	if b == nil {
		return
	}
	view := *b
	s.completeBuildLocked(b)
	writeConvoxJSON(w, http.StatusOK, view)
}

func (s *Server) buildOr404(w http.ResponseWriter, app, id string) *rackBuild {
	b := s.buildLocked(app, id)
	if b == nil {
		writeConvoxError(w, http.StatusNotFound, "no such build: "+id)
	}
	return b
}

// listLimit reads ?limit=N (default defaultListLimit).
func listLimit(r *http.Request) int {
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 {
		return n
	}
	return defaultListLimit
}

func handleBuildList(s *Server, w http.ResponseWriter, r *http.Request, _ *principal, vars map[string]string) {
	limit := listLimit(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.appOr404(w, vars["app"]) == nil {
		return
	}
	out := []rackBuild{}
	for i := len(s.rack.builds) - 1; i >= 0 && len(out) < limit; i-- {
		if b := s.rack.builds[i]; b.App == vars["app"] {
			out = append(out, *b)
		}
	}
	writeConvoxJSON(w, http.StatusOK, out)
}

// handleBuildUpdate is PUT /apps/{app}/builds/{id}, used by external
// builds: form release, manifest, status, logs, entrypoint, started, ended.
func handleBuildUpdate(s *Server, w http.ResponseWriter, r *http.Request, _ *principal, vars map[string]string) {
	if !parseForm(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.appOr404(w, vars["app"]) == nil {
		return
	}
	b := s.buildOr404(w, vars["app"], vars["id"])
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
				writeConvoxError(w, http.StatusBadRequest, "invalid "+field+": "+v)
				return
			}
			*dst = t
		}
	}
	writeConvoxJSON(w, http.StatusOK, b)
}

// handleBuildImport is POST /apps/{app}/builds/import: the body is an
// exported build; the sandbox stores it and completes a build at once.
func handleBuildImport(s *Server, w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxObjectBytes))
	if err != nil {
		writeConvoxError(w, http.StatusRequestEntityTooLarge, "object too large")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	key := a.name + "/tmp/import-" + strings.ToLower(randomFrom("abcdef0123456789", 12)) + ".tgz"
	s.rack.objects[key] = body
	b := s.newBuildLocked(a, "object://"+key, "imported build", "")
	s.completeBuildLocked(b)
	s.noteApprovalLocked(p, func(d *deployApproval) { d.BuildID = b.Id })
	writeConvoxJSON(w, http.StatusOK, b)
}

// releaseViewLocked masks env values as the gateway does on the way out
// (§6.3): secret and protected keys always, everything for callers
// without env:read.
func (s *Server) releaseViewLocked(p *principal, a *rackApp, rel *rackRelease) rackRelease {
	v := *rel
	env := parseEnv(rel.Env)
	all := !s.hasPermission(p, "convox:env:read")
	for k := range env {
		if all || a.isSecretKey(k) {
			env[k] = maskedSecret
		}
	}
	v.Env = formatEnv(env)
	return v
}

// handleReleaseList is GET /apps/{app}/releases[?limit=N], newest first.
func handleReleaseList(s *Server, w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	limit := listLimit(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	out := []rackRelease{}
	for i := len(s.rack.releases) - 1; i >= 0 && len(out) < limit; i-- {
		if rel := s.rack.releases[i]; rel.App == a.name {
			out = append(out, s.releaseViewLocked(p, a, rel))
		}
	}
	writeConvoxJSON(w, http.StatusOK, out)
}

func handleReleaseGet(s *Server, w http.ResponseWriter, _ *http.Request, p *principal, vars map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	if rel := s.releaseOr404(w, a.name, vars["id"]); rel != nil {
		writeConvoxJSON(w, http.StatusOK, s.releaseViewLocked(p, a, rel))
	}
}

func (s *Server) releaseOr404(w http.ResponseWriter, app, id string) *rackRelease {
	rel := s.releaseLocked(app, id)
	if rel == nil {
		writeConvoxError(w, http.StatusNotFound, "no such release: "+id)
	}
	return rel
}

// handleCreateRelease is POST /apps/{app}/releases (form env, build,
// description, parent-release). Like the rack, the release forks the
// latest one; a posted env goes through the gateway's merge first.
func handleCreateRelease(s *Server, w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	if !parseForm(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	env, build, manifest := map[string]string{}, "", ""
	if base := s.latestReleaseLocked(a.name); base != nil {
		env, build, manifest = parseEnv(base.Env), base.Build, base.Manifest
	}
	if id := r.FormValue("build"); id != "" {
		b := s.buildOr404(w, a.name, id)
		if b == nil {
			return
		}
		build, manifest = b.Id, b.Manifest
	}
	if _, posted := r.Form["env"]; posted {
		merged, reject := s.mergeReleaseEnv(p, a, env, parseEnv(r.FormValue("env")))
		if reject != nil {
			reject(w)
			return
		}
		env = merged
	}
	rel := s.newReleaseLocked(a.name, build, manifest, r.FormValue("description"), env)
	writeConvoxJSON(w, http.StatusOK, s.releaseViewLocked(p, a, rel))
}

// mergeReleaseEnv is §6.4: a masked value keeps the current one, posted
// keys are set, absent keys are deleted except protected ones. Any change
// needs env:set, a secret change secret:set, and protected keys never
// change; each refusal is the proxy's "create releases" 403.
func (s *Server) mergeReleaseEnv(p *principal, a *rackApp, base, posted map[string]string) (map[string]string, func(http.ResponseWriter)) {
	refuse := func(w http.ResponseWriter) {
		writeText(w, http.StatusForbidden, "You don't have permission to create releases.")
	}
	merged := map[string]string{}
	var changed, secretChanged, protectedChanged bool
	note := func(k string) {
		changed = true
		switch {
		case a.isProtectedKey(k):
			protectedChanged = true
		case a.isSecretKey(k):
			secretChanged = true
		}
	}
	for k, v := range posted {
		old, exists := base[k]
		switch {
		case v == maskedSecret && !exists:
			return nil, func(w http.ResponseWriter) {
				writeError(w, http.StatusBadRequest, "Masked secret value submitted without an existing secret.")
			}
		case v == maskedSecret:
			v = old
		case !exists || old != v:
			note(k)
		}
		merged[k] = v
	}
	for k, old := range base {
		if _, ok := posted[k]; ok {
			continue
		}
		if a.isProtectedKey(k) {
			merged[k] = old
			continue
		}
		note(k)
	}
	if protectedChanged || (changed && !s.hasPermission(p, "convox:env:set")) ||
		(secretChanged && !s.hasPermission(p, "convox:secret:set")) {
		return nil, refuse
	}
	return merged, nil
}

// handlePromote is POST /apps/{app}/releases/{id}/promote: the app moves
// to the release, its processes roll over, and it reports "updating" to
// one read before "running".
func handlePromote(s *Server, w http.ResponseWriter, _ *http.Request, p *principal, vars map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appOr404(w, vars["app"])
	if a == nil {
		return
	}
	rel := s.releaseOr404(w, a.name, vars["id"])
	if rel == nil {
		return
	}
	withDefaultService(a)
	a.release = rel.Id
	s.rolloutLocked(a, "", rel.Id)
	a.setTransient("updating")
	s.appendLogLocked(a.name, "system/k8s", "release "+rel.Id+" promoted", s.now())
	now := s.now().UTC()
	s.noteApprovalLocked(p, func(d *deployApproval) {
		d.Status, d.ReleasePromotedAt = "deployed", &now
		id := p.token.publicID
		d.ReleasePromotedByAPITokenID = &id
	})
	writeConvoxOK(w)
}

// appEnvLocked is the env of app's latest release, for the native env API.
func (s *Server) appEnvLocked(app string) map[string]string {
	if rel := s.latestReleaseLocked(app); rel != nil {
		return parseEnv(rel.Env)
	}
	return map[string]string{}
}

// sortedEnvLines renders env as sorted KEY=VALUE lines (the fake `env`).
func sortedEnvLines(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, fmt.Sprintf("%s=%s", k, v))
	}
	sort.Strings(out)
	return out
}
