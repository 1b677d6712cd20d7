package session

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/config"
	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/agent/events"
	"github.com/rack-gateway/rack-gateway/ipc"
)

func registerSession(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "logout", Usage: "logout", MaxArgs: 0,
		Short: "Revoke the session on the gateway and forget it here",
		Long: `Revoke the current rack's session on the gateway and remove its token.

The rack stays configured, so 'rack-gateway login <rack>' signs in again
without the URL.`,
		Run: runLogout,
	})
	r.Add(&kit.Command{
		Name: "rack", Usage: "rack", MaxArgs: 0,
		Short: "Show the current rack, its gateway and login state",
		Run:   runRack,
	})
	r.Add(&kit.Command{
		Name: "racks", Usage: "racks", MaxArgs: 0,
		Short: "List configured racks (* marks the current one)",
		Run:   runRacks,
	})
	r.Add(&kit.Command{
		Name: "switch", Usage: "switch <rack>", MinArgs: 1, MaxArgs: 1, ArgHint: "a rack name",
		Short: "Make another configured rack the current one",
		Run:   runSwitch,
	})
}

func runLogout(ctx context.Context, x *kit.Ctx) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	tok, err := t.Profile.Token(t.Name)
	if err != nil {
		return kit.StoreErr(err)
	}
	if tok == "" {
		// Nothing to revoke or forget: saying "Logged out" would mislead.
		fmt.Fprintf(x.Out, "Not logged in to %s\n", t.Name)
		return nil
	}
	if t.URL != "" {
		if err := x.Core.Gateway(t.URL).Logout(ctx, tok); err != nil {
			if ctx.Err() != nil {
				return ipc.Interrupted("logout cancelled; the session was kept")
			}
			// Removing the local copy is still what the user asked for;
			// say plainly that the server may still honour the session.
			x.Progress("Warning: could not revoke the session on the gateway (%v); it stays valid there until it expires.", kit.GatewayErr(t, err))
		}
	}
	if err := t.Profile.DeleteToken(t.Name); err != nil {
		return kit.StoreErr(err)
	}
	if t.Gateway != nil {
		err := t.Profile.Update(func(c *config.Config) error {
			if g := c.Gateways[t.Name]; g != nil {
				g.Email, g.ExpiresAt, g.SessionID, g.MFAVerified, g.Channel = "", nil, 0, false, ""
			}
			return nil
		})
		if err != nil {
			return kit.ConfigErr(err)
		}
	}
	x.Core.Log.Info("logout", "rack", t.Name)
	x.Core.MFA.Forget(core.SessionKey(t.Profile.Dir, t.Name))
	x.Core.Events.Publish(events.Event{Type: events.Logout, Rack: t.Name, ConfigDir: t.Profile.Dir})
	x.Core.WriteStatus()
	fmt.Fprintf(x.Out, "✓ Logged out from %s\n", t.Name)
	return nil
}

func runRack(_ context.Context, x *kit.Ctx) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	fmt.Fprintf(x.Out, "Current rack: %s\n", t.Name)
	fmt.Fprintf(x.Out, "Gateway URL: %s\n", t.URL)
	if x.APIToken() != "" {
		fmt.Fprintf(x.Out, "Status: Using an API token\n")
		return nil
	}
	loggedIn, err := t.Profile.TokenState(t.Name)
	if err != nil {
		return kit.StoreErr(err)
	}
	switch {
	case !loggedIn || t.Gateway == nil:
		fmt.Fprintf(x.Out, "Status: Not logged in (run: rack-gateway login %s)\n", kit.LoginArgs(t))
	case t.Gateway.ExpiresAt != nil && time.Now().After(*t.Gateway.ExpiresAt):
		fmt.Fprintf(x.Out, "Status: Session expired (run: rack-gateway login %s)\n", t.Name)
	default:
		fmt.Fprintf(x.Out, "Status: Logged in as %s\n", t.Gateway.Email)
		if t.Gateway.ExpiresAt != nil {
			fmt.Fprintf(x.Out, "Session expires: %s (%s)\n", t.Gateway.ExpiresAt.UTC().Format(time.RFC3339), untilText(*t.Gateway.ExpiresAt))
		}
	}
	fmt.Fprintf(x.Out, "Token store: %s\n", t.Profile.StoreDescription())
	return nil
}

func runRacks(_ context.Context, x *kit.Ctx) error {
	p, err := x.Profile()
	if err != nil {
		return err
	}
	cfg := p.Config()
	if len(cfg.Gateways) == 0 {
		fmt.Fprintln(x.Out, "No racks configured. Use 'rack-gateway login <rack> <gateway-url>' to add a rack.")
		return nil
	}
	fmt.Fprintln(x.Out, "Configured racks:")
	tw := tabwriter.NewWriter(x.Out, 0, 4, 2, ' ', 0)
	for _, name := range cfg.Names() {
		g := cfg.Gateways[name]
		marker := " "
		if name == cfg.Current {
			marker = "*"
		}
		user, state := "-", "not logged in"
		loggedIn, err := p.TokenState(name)
		if err != nil {
			return kit.StoreErr(err)
		}
		if loggedIn {
			user = g.Email
			state = "logged in"
			if g.ExpiresAt != nil {
				if time.Now().After(*g.ExpiresAt) {
					state = "session expired"
				} else {
					state = "logged in, expires " + untilText(*g.ExpiresAt)
				}
			}
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\n", marker, name, g.URL, user, state)
	}
	return tw.Flush()
}

func runSwitch(_ context.Context, x *kit.Ctx) error {
	p, err := x.Profile()
	if err != nil {
		return err
	}
	rack := x.Args[0]
	err = p.Update(func(c *config.Config) error {
		if _, ok := c.Gateways[rack]; !ok {
			return ipc.Errorf(ipc.CodeNotFound, "rack %s not found", rack).
				WithHint("Use 'rack-gateway racks' to list available racks, or 'rack-gateway login %s <gateway-url>' to add it.", rack)
		}
		c.Current = rack
		return nil
	})
	if err != nil {
		return err
	}
	x.Core.WriteStatus()
	fmt.Fprintf(x.Out, "✓ Switched to rack: %s\n", rack)
	return nil
}

// untilText renders a future time as "in 3 days" / "in 5 minutes".
func untilText(t time.Time) string {
	d := time.Until(t)
	if d < 0 {
		return "expired"
	}
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("in %d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("in %d hours", int(d.Hours()))
	case d >= 2*time.Minute:
		return fmt.Sprintf("in %d minutes", int(d.Minutes()))
	default:
		return fmt.Sprintf("in %d seconds", int(d.Seconds()))
	}
}
