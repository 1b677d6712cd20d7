package kit

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
)

// seen: every list of apps, processes or releases a command reads from the
// rack is remembered (core.Seen) for shell completion, which offers those
// names without asking the rack.

// proxyApps is the rack proxy's apps route (docs/gateway-protocol.md,
// "Rack proxy").
const proxyApps = "/api/v1/rack-proxy/apps"

// noteSeen remembers the names in a successful list answer.
func (x *Ctx) noteSeen(t *Target, req gateway.Request, raw *gateway.Raw) {
	if req.Method != http.MethodGet || raw == nil || raw.Status != http.StatusOK || t.Profile == nil {
		return
	}
	kind, app, field, ok := seenRoute(req.Path)
	if !ok {
		return
	}
	var items []map[string]any
	if json.Unmarshal(raw.Body, &items) != nil {
		return
	}
	names := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it[field].(string); ok && s != "" {
			names = append(names, s)
		}
	}
	x.Core.Seen.Put(core.SessionKey(t.Profile.Dir, t.Name), kind, app, names)
}

// seenRoute names what a list route holds: GET /apps (apps by name),
// /apps/{app}/processes (by id; a filtered list is not the whole set, so
// it is not kept) and /apps/{app}/releases (by id, newest first).
func seenRoute(p string) (kind, app, field string, ok bool) {
	path, query, _ := strings.Cut(p, "?")
	rest, found := strings.CutPrefix(path, proxyApps)
	if !found {
		return "", "", "", false
	}
	if rest == "" {
		return core.SeenApps, "", "name", true
	}
	parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	if len(parts) != 2 || !strings.HasPrefix(rest, "/") {
		return "", "", "", false
	}
	app, err := url.PathUnescape(parts[0])
	if err != nil || app == "" {
		return "", "", "", false
	}
	switch {
	case parts[1] == "processes" && query == "":
		return core.SeenProcesses, app, "id", true
	case parts[1] == "releases":
		return core.SeenReleases, app, "id", true
	}
	return "", "", "", false
}
