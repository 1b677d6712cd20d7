package sandbox

import (
	"net/http"
	"strings"
)

// introspectPrefix holds sandbox-only endpoints for tests. They exist on no
// real gateway, answer only loopback clients and are not request-counted.
const introspectPrefix = "/_sandbox/"

func (s *Server) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	if !isLoopbackRemote(r) {
		notFound(w)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, introspectPrefix)
	switch {
	case r.Method == http.MethodGet && path == "requests":
		s.mu.Lock()
		counts := make(map[string]int, len(s.counts))
		for k, v := range s.counts {
			counts[k] = v
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"counts": counts})
	case r.Method == http.MethodGet && path == "replays":
		writeJSON(w, http.StatusOK, map[string]int{"replay_count": s.ReplayCount()})
	case r.Method == http.MethodPost && strings.HasPrefix(path, "users/") && strings.HasSuffix(path, "/unlock"):
		// r.URL.Path is already unescaped, so "%40" arrives as "@".
		email := strings.TrimSuffix(strings.TrimPrefix(path, "users/"), "/unlock")
		if s.Unlock(email) != nil {
			writeError(w, http.StatusNotFound, "user not found")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "unlocked"})
	default:
		notFound(w)
	}
}
