// Package commands assembles every rack-gateway command: the kit (the
// shared context, grammar and helpers) and one package per domain, each
// adding its commands through its Register function. This file is the one
// place that lists them.
package commands

import (
	"context"

	"github.com/rack-gateway/rack-gateway/agent/commands/admin"
	"github.com/rack-gateway/rack-gateway/agent/commands/convox"
	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/commands/mfa"
	"github.com/rack-gateway/rack-gateway/agent/commands/native"
	"github.com/rack-gateway/rack-gateway/agent/commands/session"
	"github.com/rack-gateway/rack-gateway/agent/term"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// Env is what the host (daemon or exec) provides to commands.
type Env = kit.Env

// Mode says where a command runs.
type Mode = kit.Mode

// The modes.
const (
	ModeDaemon = kit.ModeDaemon
	ModeExec   = kit.ModeExec
)

// Registry returns a new registry with every command. Hosts build one at
// start and pass it in Env; nothing fills a global.
func Registry() *kit.Registry {
	r := kit.NewRegistry()
	session.Register(r)
	convox.Register(r)
	native.Register(r)
	mfa.Register(r)
	admin.Register(r)
	kit.RegisterCompletion(r)
	return r
}

// Result is what a finished command tells its host.
type Result = kit.Result

// Run parses inv.Argv and runs the command, with every command registered
// unless env names a registry (see kit.Run).
func Run(ctx context.Context, env *Env, inv *ipc.Invocation, t term.Terminal) (Result, error) {
	if env.Registry == nil {
		env.Registry = Registry()
	}
	return kit.Run(ctx, env, inv, t)
}
