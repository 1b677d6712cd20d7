package convox

import "github.com/rack-gateway/rack-gateway/agent/commands/kit"

// registerSystem adds the rack-level commands under "rack": logs, params,
// params set, ps, releases, scale and update.
func registerSystem(r *kit.Registry) {}
