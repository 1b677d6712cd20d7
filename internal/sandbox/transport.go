package sandbox

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// transport applies the checks every request goes through: host, then
// Origin. Rate limits are per route (see limited) because only some route
// families are throttled.
func (s *Server) transport(next http.Handler) http.Handler {
	allowed := canonicalHost(s.cfg.Domain)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r, allowed) {
			writeError(w, http.StatusBadRequest, "invalid host")
			return
		}
		if !originAllowed(r, allowed) {
			writeError(w, http.StatusBadRequest, "invalid origin")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func hostAllowed(r *http.Request, allowed string) bool {
	// The real server lets Kubernetes probes through; kept for fidelity.
	if strings.Contains(strings.ToLower(r.UserAgent()), "kube-probe") {
		return true
	}
	host := canonicalHost(r.Host)
	if host == "" && r.URL != nil {
		host = canonicalHost(r.URL.Host)
	}
	return isLocalName(host) || host == "" || host == allowed
}

// originAllowed checks Origin only for requests that look like they come
// from a browser or an SDK (a User-Agent or Sec-Fetch-Site header). The
// sandbox is a dev-mode server, so localhost origins are also accepted.
func originAllowed(r *http.Request, allowed string) bool {
	if r.Header.Get("User-Agent") == "" && r.Header.Get("Sec-Fetch-Site") == "" {
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	host := canonicalHost(u.Host)
	if isLocalName(host) {
		return true
	}
	return host != "" && host == allowed
}

// canonicalHost lower-cases, strips a port and brackets, and drops a
// trailing dot, so "LocalHost.:8080" and "localhost" compare equal.
func canonicalHost(raw string) string {
	h := strings.ToLower(strings.TrimSpace(raw))
	if h == "" {
		return ""
	}
	if strings.HasPrefix(h, "[") {
		if end := strings.Index(h, "]"); end != -1 {
			return strings.TrimSuffix(h[1:end], ".")
		}
	}
	if i := strings.LastIndex(h, ":"); i != -1 && !strings.Contains(h[:i], ":") {
		h = h[:i]
	}
	return strings.TrimSuffix(h, ".")
}

// websocketOriginAllowed is the gateway's WebSocket upgrader check, run
// by the rack's upgrader because in the sandbox that is the one upgrade.
// The transport already checked Origin for requests that look like they
// come from a browser; this repeats the host part for every upgrade so a
// cross-site page can never open a stream (403, as on the real gateway).
func (s *Server) websocketOriginAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	host := canonicalHost(strings.TrimPrefix(strings.TrimPrefix(origin, "https://"), "http://"))
	return isLocalName(host) || host == canonicalHost(s.cfg.Domain)
}

func isLocalName(host string) bool { return host == "localhost" || host == "127.0.0.1" }

// clientIP is the connection's address. X-Forwarded-For is deliberately
// ignored: every sandbox client is local and must not pick its own bucket.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return strings.TrimSpace(r.RemoteAddr)
	}
	return host
}

func isLoopbackRemote(r *http.Request) bool {
	ip := net.ParseIP(clientIP(r))
	return ip != nil && ip.IsLoopback()
}

// baseURL is the origin the client used to reach us, so URLs we hand out
// (auth_url, redirect_uri) work whatever port the sandbox got.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = "localhost"
	}
	return scheme + "://" + host
}
