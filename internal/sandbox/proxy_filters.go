package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
)

// What the gateway does around forwarding a request to the rack
// (docs/gateway-protocol.md, "Environment and releases"). The rack knows
// nothing of callers, so everything that depends on who asks is done here,
// on the forwarded request and the rack's answer, as a proxy would:
//
//   - POST /apps/{app}/releases: a posted env is merged with the latest
//     release's env and checked against the caller's permissions before
//     the rack sees it; the rack then gets the merged env.
//   - release answers: env values are masked for the caller.
//   - gated actions of a deploy_with_approval token: the object URL,
//     build id, process id and promotion in the rack's answer are recorded
//     in the deploy approval request.
//   - app delete: the app's gateway settings go with it.

// rackFilter is what the gateway does around forwarding one route.
type rackFilter struct {
	// request may change the forwarded request, or answer the client
	// itself and report false; then the rack is not asked.
	request func(s *Server, w http.ResponseWriter, out *http.Request, p *principal, vars map[string]string) bool
	// response sees the rack's answer and writes the client's. Without
	// it the rack answers the client directly.
	response func(s *Server, w http.ResponseWriter, ans *rackAnswer, p *principal, vars map[string]string)
}

var (
	filterReleaseList   = &rackFilter{response: (*Server).maskReleaseList}
	filterReleaseGet    = &rackFilter{response: (*Server).maskReleaseAnswer}
	filterReleaseCreate = &rackFilter{request: (*Server).mergeReleaseEnv, response: (*Server).maskReleaseAnswer}
	filterAppDelete     = &rackFilter{response: (*Server).forgetDeletedApp}
	filterObjectStore   = &rackFilter{response: recordInApproval(func(d *deployApproval, v answerIDs) { d.ObjectURL = v.URL })}
	filterBuildCreate   = &rackFilter{response: recordInApproval(func(d *deployApproval, v answerIDs) { d.BuildID = v.ID })}
	filterProcessRun    = &rackFilter{response: recordInApproval(func(d *deployApproval, v answerIDs) { d.ProcessIDs = append(d.ProcessIDs, v.ID) })}
	filterPromote       = &rackFilter{response: (*Server).recordPromotion}
)

// forward hands out to the rack, through rt's filter if it has one.
func (s *Server) forward(w http.ResponseWriter, out *http.Request, p *principal, rt *proxyRoute, vars map[string]string) {
	// net/http removes the temporary files of the request it served, not
	// of this copy, which the rack parses.
	defer func() {
		if out.MultipartForm != nil {
			_ = out.MultipartForm.RemoveAll()
		}
	}()
	f := rt.filter
	if f != nil && f.request != nil && !f.request(s, w, out, p, vars) {
		return
	}
	if f == nil || f.response == nil {
		s.rack.ServeHTTP(w, out)
		return
	}
	ans := &rackAnswer{header: http.Header{}}
	s.rack.ServeHTTP(ans, out)
	f.response(s, w, ans, p, vars)
}

// rackAnswer holds the rack's answer for a response filter. It is not a
// Hijacker: routes with a response filter are never WebSockets.
type rackAnswer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *rackAnswer) Header() http.Header { return a.header }

func (a *rackAnswer) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
}

func (a *rackAnswer) Write(p []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	return a.body.Write(p)
}

func (a *rackAnswer) ok() bool { return a.status == http.StatusOK }

// relay writes the answer to the client unchanged.
func (a *rackAnswer) relay(w http.ResponseWriter) {
	for k, v := range a.header {
		w.Header()[k] = v
	}
	a.WriteHeader(http.StatusOK)
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body.Bytes())
}

// rewrite decodes a successful JSON answer into v, lets change alter it
// and renders it as the rack renders answers; any other answer is relayed.
func rewrite[T any](w http.ResponseWriter, ans *rackAnswer, change func(*T)) {
	if !ans.ok() {
		ans.relay(w)
		return
	}
	var v T
	if err := json.Unmarshal(ans.body.Bytes(), &v); err != nil {
		// Never relay what could not be masked.
		writeText(w, http.StatusBadGateway, "bad gateway")
		return
	}
	change(&v)
	for k, vals := range ans.header {
		w.Header()[k] = vals
	}
	convoxfake.WriteJSON(w, http.StatusOK, v)
}

// maskRelease masks release env values for p: secret and protected keys
// always, every value for a caller without convox:env:read.
func (s *Server) maskRelease(p *principal, a appSettings, rel *convoxfake.Release) {
	env := convoxfake.ParseEnv(rel.Env)
	all := !s.hasPermission(p, "convox:env:read")
	for k := range env {
		if all || a.isSecretKey(k) {
			env[k] = maskedSecret
		}
	}
	rel.Env = convoxfake.FormatEnv(env)
}

func (s *Server) maskReleaseList(w http.ResponseWriter, ans *rackAnswer, p *principal, vars map[string]string) {
	a := s.settingsFor(vars["app"])
	rewrite(w, ans, func(list *[]convoxfake.Release) {
		for i := range *list {
			s.maskRelease(p, a, &(*list)[i])
		}
	})
}

func (s *Server) maskReleaseAnswer(w http.ResponseWriter, ans *rackAnswer, p *principal, vars map[string]string) {
	a := s.settingsFor(vars["app"])
	rewrite(w, ans, func(rel *convoxfake.Release) { s.maskRelease(p, a, rel) })
}

// mergeReleaseEnv is the gateway's rule for an env posted to POST
// /apps/{app}/releases: a masked value keeps the current one, posted keys
// are set, absent keys are deleted except protected ones. Any change needs
// env:set, a secret change secret:set, and protected keys never change;
// each refusal is the proxy's "create releases" 403. The rack then gets
// the merged env as the release's whole env. A body the rack cannot parse,
// an unknown app or an unknown build go to the rack unchanged, so its own
// errors come first, as they did when the merge ran inside the rack.
func (s *Server) mergeReleaseEnv(w http.ResponseWriter, out *http.Request, p *principal, vars map[string]string) bool {
	form, err := peekForm(out, convoxfake.ParseForm)
	if err != nil {
		return true
	}
	if _, posted := form.Form["env"]; !posted {
		return true
	}
	app := vars["app"]
	base, err := s.rack.Env(app)
	if err != nil {
		return true
	}
	if id := form.FormValue("build"); id != "" && !s.rack.HasBuild(app, id) {
		return true
	}
	a := s.settingsFor(app)
	posted := convoxfake.ParseEnv(form.FormValue("env"))
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
			writeError(w, http.StatusBadRequest, "Masked secret value submitted without an existing secret.")
			return false
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
		writeText(w, http.StatusForbidden, "You don't have permission to create releases.")
		return false
	}
	body := url.Values{}
	for k, v := range form.PostForm {
		body[k] = v
	}
	body["env"] = []string{convoxfake.FormatEnv(merged)}
	enc := body.Encode()
	out.Body = io.NopCloser(strings.NewReader(enc))
	out.ContentLength = int64(len(enc))
	out.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	out.Header.Set("Content-Length", strconv.Itoa(len(enc)))
	return true
}

// peekForm parses a copy of r with parse, the way the rack will parse r,
// and puts back every byte it read, so r still carries its whole body.
func peekForm(r *http.Request, parse func(*http.Request) error) (*http.Request, error) {
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	var seen bytes.Buffer
	peek := r.Clone(r.Context())
	peek.Body = io.NopCloser(io.TeeReader(body, &seen))
	err := parse(peek)
	if peek.MultipartForm != nil {
		_ = peek.MultipartForm.RemoveAll()
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(&seen, body), body}
	return peek, err
}

// forgetDeletedApp drops the settings of an app the rack deleted.
func (s *Server) forgetDeletedApp(w http.ResponseWriter, ans *rackAnswer, _ *principal, vars map[string]string) {
	if ans.ok() {
		s.forgetAppSettings(vars["name"])
	}
	ans.relay(w)
}

// answerIDs are the fields of a rack answer an approval records.
type answerIDs struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// recordInApproval records what a gated action did, from the rack's
// answer, into the deploy approval it ran under, then relays the answer.
func recordInApproval(f func(*deployApproval, answerIDs)) func(*Server, http.ResponseWriter, *rackAnswer, *principal, map[string]string) {
	return func(s *Server, w http.ResponseWriter, ans *rackAnswer, p *principal, _ map[string]string) {
		var v answerIDs
		if p.approval != nil && ans.ok() && json.Unmarshal(ans.body.Bytes(), &v) == nil {
			s.noteApproval(p, func(d *deployApproval) { f(d, v) })
		}
		ans.relay(w)
	}
}

// recordPromotion marks the approval a promote ran under "deployed".
func (s *Server) recordPromotion(w http.ResponseWriter, ans *rackAnswer, p *principal, _ map[string]string) {
	if p.approval != nil && ans.ok() {
		now := s.now().UTC()
		s.noteApproval(p, func(d *deployApproval) {
			d.Status, d.ReleasePromotedAt = "deployed", &now
			id := p.token.publicID
			d.ReleasePromotedByAPITokenID = &id
		})
	}
	ans.relay(w)
}
