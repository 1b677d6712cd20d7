// Package convox holds the Convox commands (apps, ps, env, releases, builds,
// build and deploy, logs, exec, run, scale, rack info, instances): they go
// to the rack through the gateway's rack proxy.
package convox

import "github.com/rack-gateway/rack-gateway/agent/commands/kit"

// Register adds this package's commands to r.
func Register(r *kit.Registry) {
	registerApps(r)
	registerAppsManage(r)
	registerBuild(r)
	registerEnv(r)
	registerEnvEdit(r)
	registerReleases(r)
	registerStreams(r)
	registerSystem(r)
	registerUnforwarded(r)
}
