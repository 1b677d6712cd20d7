package sandbox

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// The mock OAuth provider. The real gateway sends the browser to Google (or,
// in development, to a mock IdP); the sandbox hosts that IdP itself at
// /oauth/authorize so a login needs nothing but this process.

const (
	oauthClientID     = "sandbox"
	oauthAuthorize    = "/oauth/authorize"
	cliCallbackPath   = "/api/v1/auth/cli/callback"
	oauthCodeLifetime = 10 * time.Minute
)

var errExchange = errors.New("oauth exchange failed")

// authURL builds the URL /auth/cli/start returns, with the same parameters
// the real server sends to Google.
func authURL(base, state, codeVerifier string) string {
	sum := sha256.Sum256([]byte(codeVerifier))
	q := url.Values{}
	q.Set("client_id", oauthClientID)
	q.Set("redirect_uri", base+cliCallbackPath)
	q.Set("response_type", "code")
	q.Set("scope", "openid profile email")
	q.Set("state", state)
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	q.Set("code_challenge_method", "S256")
	q.Set("prompt", "select_account")
	q.Set("access_type", "offline")
	return base + oauthAuthorize + "?" + q.Encode()
}

// handleAuthorize is the mock IdP's authorize endpoint. Without
// selected_user it shows an account chooser; with it, it issues a code and
// redirects to redirect_uri (302, as the Express mock does).
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirectURI := q.Get("redirect_uri")
	if q.Get("client_id") == "" || redirectURI == "" || q.Get("response_type") != "code" {
		writeJSON(w, http.StatusBadRequest, map[string]string{
			"error": "invalid_request", "error_description": "Missing or invalid required parameters",
		})
		return
	}
	target, err := url.Parse(redirectURI)
	// Only redirect back to this server: the sandbox is no open redirector.
	if err != nil || (target.Host != "" && !strings.EqualFold(target.Host, r.Host)) {
		writeJSON(w, http.StatusBadRequest, map[string]string{
			"error": "invalid_request", "error_description": "redirect_uri must point at this server",
		})
		return
	}
	selected := strings.TrimSpace(q.Get("selected_user"))
	if selected == "" {
		s.renderChooser(w, r)
		return
	}

	code := randomToken(32)
	s.mu.Lock()
	// An e-mail the IdP does not know still gets a code: its exchange then
	// fails, which is how the sandbox reaches exchange_failed.
	s.codes[code] = &oauthCode{
		email:         selected,
		autoMFA:       q.Get("mfa") == "auto",
		codeChallenge: q.Get("code_challenge"),
		expiresAt:     s.now().Add(oauthCodeLifetime),
	}
	s.mu.Unlock()

	back := target.Query()
	back.Set("code", code)
	if st := q.Get("state"); st != "" {
		back.Set("state", st)
	}
	target.RawQuery = back.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// exchangeCodeLocked plays the IdP's token endpoint: single-use codes,
// PKCE S256 check, then the identity. autoMFA reports the sandbox knob.
func (s *Server) exchangeCodeLocked(code, verifier string) (idpIdentity, bool, error) {
	c, ok := s.codes[code]
	if !ok {
		return idpIdentity{}, false, errExchange
	}
	delete(s.codes, code) // used or not, a code is good for one exchange
	if s.now().After(c.expiresAt) {
		return idpIdentity{}, false, errExchange
	}
	if c.codeChallenge != "" {
		sum := sha256.Sum256([]byte(verifier))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != c.codeChallenge {
			return idpIdentity{}, false, errExchange
		}
	}
	id, ok := s.idp[c.email]
	if !ok {
		return idpIdentity{}, false, errExchange
	}
	return id, c.autoMFA, nil
}

var chooserTmpl = template.Must(template.New("chooser").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Sandbox sign-in</title></head>
<body>
<h1>Choose an account</h1>
<p>This is the rack-gateway sandbox's mock identity provider.</p>
<ul>
{{range .}}<li>{{.Email}} ({{.Name}}):
 <a href="{{.Select}}">sign in</a> ·
 <a href="{{.Auto}}">sign in and pass MFA automatically</a></li>
{{end}}</ul>
</body></html>
`))

type chooserEntry struct {
	Email, Name string
	Select      string
	Auto        string
}

func (s *Server) renderChooser(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	entries := make([]chooserEntry, 0, len(s.idp))
	for _, id := range s.idp {
		entries = append(entries, chooserEntry{Email: id.email, Name: id.name})
	}
	s.mu.Unlock()
	sort.Slice(entries, func(i, j int) bool { return entries[i].Email < entries[j].Email })
	for i := range entries {
		q := r.URL.Query()
		q.Set("selected_user", entries[i].Email)
		entries[i].Select = oauthAuthorize + "?" + q.Encode()
		q.Set("mfa", "auto")
		entries[i].Auto = oauthAuthorize + "?" + q.Encode()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = chooserTmpl.Execute(w, entries)
}
