// Package native holds the commands of the gateway's own API: API tokens,
// deploy approvals, the gateway's info and web app, and `api` for any
// request.
//
// Each verb with flags has an options struct, created anew for every
// invocation by kit.Command.Bind and filled by pflag (…VarP), so no command
// reads a flag by name. Flag groups several verbs share (the deploy-approval
// search flags, --app, the api-token listings' output flags) are small
// structs with a bind method of their own.
package native

import (
	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
)

// Register adds this package's commands to r.
func Register(r *kit.Registry) {
	registerAPI(r)
	registerApprovals(r)
	registerMisc(r)
	registerTokens(r)
}
