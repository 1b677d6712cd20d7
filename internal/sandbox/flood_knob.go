package sandbox

import (
	"encoding/json"
	"net/http"

	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
)

// serveFloodKnob is POST /_sandbox/log-flood: the rack's FloodNextLogs.
// The body is read strictly, as faults are: a misspelt field would flood
// with other sizes than the benchmark meant.
func (s *Server) serveFloodKnob(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		notFound(w)
		return
	}
	var f convoxfake.LogFlood
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(&f)
	pending := 0
	if err == nil {
		pending, err = s.rack.FloodNextLogs(f)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid flood: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "armed", "pending": pending})
}
