package session

import (
	"context"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// The CLI answers `prompt` itself from the status file, without the agent;
// it is registered here only so that help and completion list it.
func registerPrompt(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "prompt", Usage: "prompt [--format FMT] [--rack NAME]", MaxArgs: -1,
		Short: "Print a shell-prompt segment with the step-up countdown (no agent needed)",
		Run: func(context.Context, *kit.Ctx) error {
			return ipc.Errorf(ipc.CodeUsage, "prompt is handled by the rack-gateway CLI itself, from the status file")
		},
	})
}
