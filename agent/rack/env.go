package rack

import (
	"sort"
	"strings"
)

// Mask is the value the gateway shows instead of a secret (docs/gateway-protocol.md, "Environment and releases"). Posting
// it back means "keep the current value" (the same section).
const Mask = "********************"

// ParseEnv reads a release's env: newline-separated KEY=VALUE lines. Blank
// lines, comments and lines without "=" are skipped, as Convox does.
func ParseEnv(s string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			continue
		}
		env[strings.TrimSpace(k)] = v
	}
	return env
}

// FormatEnv writes env as sorted KEY=VALUE lines (structs.Environment's
// String), the form the rack and the gateway's merge expect.
func FormatEnv(env map[string]string) string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + "=" + env[k]
	}
	return strings.Join(lines, "\n")
}
