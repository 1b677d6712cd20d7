// Package session holds the commands about the user's sessions and the
// agent itself: login, logout, rack, racks, switch, test-auth, version,
// prompt, and agent status, stop and service management.
package session

import "github.com/rack-gateway/rack-gateway/agent/commands/kit"

// Register adds this package's commands to r.
func Register(r *kit.Registry) {
	registerInfo(r)
	registerLogin(r)
	registerPrompt(r)
	registerService(r)
	registerSession(r)
}
