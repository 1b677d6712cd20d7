package convox

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// The upstream CLI has commands whose rack routes the gateway's rack proxy
// never forwards (docs/gateway-protocol.md, "Rack proxy": anything off the
// allow-list is refused before any other check). They exist here so a
// script written for upstream gets one line that says why, and exit 1,
// instead of "unknown command" or a usage error.
var unforwarded = []struct{ name, short string }{
	{"resources", "List resources"},
	{"resources console", "Start a console for a resource"},
	{"resources export", "Export data from a resource"},
	{"resources import", "Import data to a resource"},
	{"resources info", "Get information about a resource"},
	{"resources proxy", "Proxy a local port to a resource"},
	{"resources url", "Get the URL of a resource"},
	{"certs", "List certificates"},
	{"certs delete", "Delete a certificate"},
	{"certs generate", "Generate a certificate"},
	{"certs import", "Import a certificate"},
	{"certs renew", "Renew a certificate"},
	{"registries", "List private registries"},
	{"registries add", "Add a private registry"},
	{"registries remove", "Remove a private registry"},
	{"apps cancel", "Cancel an app update"},
	{"instances keyroll", "Roll the SSH key on instances"},
	{"instances terminate", "Terminate an instance"},
}

func registerUnforwarded(r *kit.Registry) {
	for _, u := range unforwarded {
		r.Add(&kit.Command{
			Name: u.name, Usage: u.name + " [args] [flags]", MaxArgs: -1,
			Short: u.short + " (not forwarded by the gateway)",
			Bind:  bindUnforwarded(u.name),
		})
	}
}

// bindUnforwarded accepts whatever arguments and flags the upstream
// command takes, so the answer is always the reason, never a usage error.
func bindUnforwarded(name string) func(*pflag.FlagSet) kit.Runner {
	return func(fs *pflag.FlagSet) kit.Runner {
		fs.ParseErrorsAllowlist.UnknownFlags = true
		return func(context.Context, *kit.Ctx) error { return notForwarded(name) }
	}
}

// notForwarded is the one-line refusal of a command the gateway never
// forwards.
func notForwarded(name string) error {
	return ipc.Errorf(ipc.CodeForbidden,
		"rack-gateway does not forward %q to the rack (the gateway allows only the routes in docs/gateway-protocol.md, \"Rack proxy\")", name)
}
