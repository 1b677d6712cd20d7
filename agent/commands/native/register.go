// Package native holds the commands of the gateway's own API: API tokens,
// deploy approvals, the gateway's info and web app, and `api` for any
// request.
package native

import "github.com/rack-gateway/rack-gateway/agent/commands/kit"

// Register adds this package's commands to r.
func Register(r *kit.Registry) {
	registerAPI(r)
	registerApprovals(r)
	registerMisc(r)
	registerTokens(r)
}
