package commands

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/ipc"
)

func init() {
	register(&Command{
		Name: "test-auth", Usage: "test-auth", MaxArgs: 0,
		Short: "Check that the stored session works",
		Run:   runTestAuth,
	})
	register(&Command{
		Name: "version", Usage: "version", MaxArgs: 0,
		Short: "Show CLI, agent and gateway versions",
		Run:   runVersion,
	})
	register(&Command{
		Name: "agent status", Usage: "agent status", MaxArgs: 0, DaemonOnly: true,
		Short: "Show the agent's state",
		Run:   runAgentStatus,
	})
	register(&Command{
		Name: "agent stop", Usage: "agent stop", MaxArgs: 0, DaemonOnly: true,
		Short: "Stop the agent (it starts again on the next command)",
		Run:   runAgentStop,
	})
}

func runTestAuth(ctx context.Context, x *Ctx) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	tok, err := x.Credential(t)
	if err != nil {
		return err
	}
	st, err := x.Core.Gateway(t.URL).MFAStatus(ctx, tok)
	if err != nil {
		return gatewayErr(t, err)
	}
	email := ""
	if t.Gateway != nil {
		email = t.Gateway.Email
	}
	fmt.Fprintf(x.Out, "Authenticated as %s\n", email)
	fmt.Fprintf(x.Out, "MFA enrolled: %s\n", yesNo(st.Enrolled))
	return nil
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func runVersion(ctx context.Context, x *Ctx) error {
	cli := x.Inv.Version
	if cli == "" {
		cli = "unknown"
	}
	fmt.Fprintf(x.Out, "rack-gateway CLI: %s\n", cli)
	fmt.Fprintf(x.Out, "rack-gateway agent: %s\n", x.Core.Version)
	t, err := x.ResolveRack()
	if err != nil {
		fmt.Fprintf(x.Out, "Gateway: unknown (no rack selected)\n")
		return nil
	}
	tok, err := x.Credential(t)
	if err != nil {
		fmt.Fprintf(x.Out, "Gateway (%s): unknown (%s)\n", t.Name, ipc.AsError(err).Message)
		return nil
	}
	// The version line should not make the command hang on a slow gateway.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := x.Core.Gateway(t.URL).Info(ctx, tok)
	if err != nil {
		fmt.Fprintf(x.Out, "Gateway (%s): unknown (%s)\n", t.Name, ipc.AsError(gatewayErr(t, err)).Message)
		return nil
	}
	v := info.Version.Version
	if c := info.Version.CommitHash; c != "" {
		v += " (" + c + ")"
	}
	fmt.Fprintf(x.Out, "Gateway (%s): %s\n", t.Name, v)
	return nil
}

func runAgentStatus(_ context.Context, x *Ctx) error {
	fmt.Fprintf(x.Out, "Agent: running (pid %d, version %s, up %s)\n", os.Getpid(), x.Core.Version, time.Since(x.Core.Started).Round(time.Second))
	fmt.Fprintf(x.Out, "Socket: %s\n", x.Socket)
	p, err := x.Profile()
	if err != nil {
		return err
	}
	fmt.Fprintf(x.Out, "Config: %s\n", p.Dir)
	fmt.Fprintf(x.Out, "Token store: %s\n", p.StoreDescription())
	cfg := p.Config()
	if len(cfg.Gateways) == 0 {
		fmt.Fprintln(x.Out, "Racks: none configured")
		return nil
	}
	fmt.Fprintln(x.Out, "Racks:")
	for _, name := range cfg.Names() {
		g := cfg.Gateways[name]
		marker := " "
		if name == cfg.Current {
			marker = "*"
		}
		state := "not logged in"
		if p.HasToken(name) {
			state = "logged in as " + g.Email
			if g.ExpiresAt != nil {
				state += ", session expires " + untilText(*g.ExpiresAt)
			}
		}
		fmt.Fprintf(x.Out, "  %s %s (%s): %s\n", marker, name, g.URL, state)
	}
	// Loud when the fallback was forced on us, quiet when the user chose it.
	if d := p.StoreDescription(); strings.HasPrefix(d, "file") && !strings.Contains(d, "selected by") {
		fmt.Fprintln(x.Err, "Warning: no OS keyring is reachable, so tokens are kept in a 0600 file. Install and unlock a Secret Service (e.g. gnome-keyring) to use the keyring.")
	}
	return nil
}

func runAgentStop(_ context.Context, x *Ctx) error {
	fmt.Fprintf(x.Out, "Agent stopped (pid %d)\n", os.Getpid())
	if x.Shutdown != nil {
		x.Shutdown()
	}
	return nil
}
