package sandbox

import (
	"html/template"
	"net/http"
)

// The real gateway serves a React SPA under /app/. The sandbox answers the
// pages the CLI login redirects to with tiny static HTML so a scripted
// browser (or a human in `make demo`) sees where it landed.

var pageTitles = map[string]string{
	challengePage:     "Multi-factor authentication required",
	successPage:       "CLI login complete",
	securityPage:      "Account security",
	"/app/login":      "Sign in",
	"/app/auth/error": "Sign-in error",
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body>
<h1>{{.Title}}</h1>
{{if .Error}}<p class="error">Error: {{.Error}}</p>{{end}}
{{if .Success}}<p>You can close this window and return to your terminal.</p>{{end}}
{{if .State}}<p>Finish MFA from the terminal or with POST /api/v1/auth/cli/mfa.</p>{{end}}
<p><small>rack-gateway sandbox</small></p>
</body></html>
`))

type pageData struct {
	Title   string
	Error   string
	State   bool
	Success bool
}

func (s *Server) serveAppPage(w http.ResponseWriter, r *http.Request) {
	title, ok := pageTitles[r.URL.Path]
	if !ok {
		title = "rack-gateway sandbox"
	}
	q := r.URL.Query()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = pageTmpl.Execute(w, pageData{
		Title:   title,
		Error:   q.Get("error"),
		State:   r.URL.Path == challengePage && q.Get("state") != "",
		Success: r.URL.Path == successPage,
	})
}
