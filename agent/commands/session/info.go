package session

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/rack"
	"github.com/rack-gateway/rack-gateway/ipc"
)

func registerInfo(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "test-auth", Usage: "test-auth [mfa|totp|webauthn]", MaxArgs: 1,
		Short: "Check the session; mfa shows the MFA state, totp or webauthn also run a verification",
		Run:   runTestAuth,
	})
	r.Add(&kit.Command{
		Name: "version", Usage: "version", MaxArgs: 0,
		Short: "Show the CLI, gateway server and rack versions (and the agent's)",
		Run:   runVersion,
	})
	r.Add(&kit.Command{
		Name: "agent status", Usage: "agent status", MaxArgs: 0, DaemonOnly: true,
		Short: "Show the agent's state",
		Run:   runAgentStatus,
	})
	r.Add(&kit.Command{
		Name: "agent stop", Usage: "agent stop", MaxArgs: 0, DaemonOnly: true,
		Short: "Stop the agent (it starts again on the next command)",
		Run:   runAgentStop,
	})
}

func runTestAuth(ctx context.Context, x *kit.Ctx) error {
	mode := ""
	if len(x.Args) == 1 {
		mode = x.Args[0]
		switch mode {
		case "mfa", "totp", "otp", "webauthn":
		default:
			return kit.UsageErr(x.Cmd, "unknown test-auth mode %q: use mfa, totp or webauthn", mode)
		}
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	tok, err := x.Credential(t)
	if err != nil {
		return err
	}
	gw := x.Core.Gateway(t.URL)
	st, err := gw.MFAStatus(ctx, tok)
	if err != nil {
		return kit.GatewayErr(t, err)
	}
	info, err := gw.Info(ctx, tok)
	if err != nil {
		return kit.GatewayErr(t, err)
	}
	s := x.MFASession(t, tok)
	x.Core.MFA.Observe(s.Key, st.RecentStepUpExpiresAt, "", "")
	x.Core.SetRole(s.Key, strings.Join(info.User.Roles, ","))
	email := info.User.Email
	if email == "" && t.Gateway != nil {
		email = t.Gateway.Email
	}
	fmt.Fprintf(x.Out, "Authenticated as %s\n", email)
	if mode == "" {
		fmt.Fprintf(x.Out, "MFA enrolled: %s\n", yesNo(st.Enrolled))
		return nil
	}
	fmt.Fprintf(x.Out, "Role: %s\n", strings.Join(info.User.Roles, ", "))
	fmt.Fprintf(x.Out, "MFA enrolled: %s\n", yesNo(st.Enrolled))
	fmt.Fprintf(x.Out, "MFA methods: %s\n", methodNames(st.Methods))
	if last := lastVerification(st.Methods, x.Core.MFA.Window(s.Key).VerifiedAt); last.IsZero() {
		fmt.Fprintln(x.Out, "Last MFA verification: never")
	} else {
		fmt.Fprintf(x.Out, "Last MFA verification: %s ago\n", agoText(time.Since(last)))
	}
	printWindow(x, st.RecentStepUpExpiresAt)
	if mode == "mfa" {
		// A preflight: it reads the status and sends no code, so it
		// spends no attempt and needs no terminal.
		return nil
	}
	r := x.MFARequest(ctx, t)
	r.Force = true
	r.Method = "totp"
	if mode == "webauthn" {
		r.Method = "webauthn"
	}
	x.Progress("Running a %s verification (it uses one MFA attempt)...", map[string]string{"totp": "TOTP", "webauthn": "WebAuthn"}[r.Method])
	if err := x.Core.MFA.EnsureWindow(ctx, s, x.Term, r); err != nil {
		return kit.GatewayErr(t, err)
	}
	after := x.Core.MFA.Window(s.Key).ExpiresAt
	printWindow(x, &after)
	return nil
}

// methodNames lists the enrolled factors once each, as people call them.
func methodNames(ms []gateway.MFAMethod) string {
	var names []string
	seen := map[string]bool{}
	for _, m := range ms {
		n := map[string]string{"totp": "TOTP", "webauthn": "WebAuthn", "yubiotp": "Yubico OTP"}[m.Type]
		if n == "" {
			n = m.Type
		}
		if !seen[n] {
			names, seen[n] = append(names, n), true
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// lastVerification is the latest of the methods' last use (any session,
// as the server knows it) and this agent's own last verification.
func lastVerification(ms []gateway.MFAMethod, agent time.Time) time.Time {
	last := agent
	for _, m := range ms {
		if m.LastUsedAt != nil && m.LastUsedAt.After(last) {
			last = *m.LastUsedAt
		}
	}
	return last
}

func printWindow(x *kit.Ctx, exp *time.Time) {
	if exp == nil || exp.IsZero() || time.Until(*exp) <= 0 {
		fmt.Fprintln(x.Out, "Step-up window: Expired")
		return
	}
	fmt.Fprintf(x.Out, "Step-up window: Active (expires in %s)\n", agoText(time.Until(*exp)))
}

// agoText renders a duration as "5 minutes" / "40 seconds".
func agoText(d time.Duration) string {
	switch {
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d >= time.Minute:
		return "1 minute"
	default:
		return fmt.Sprintf("%d seconds", int(d.Seconds()))
	}
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// runVersion prints upstream's three lines, "client:", "gateway:" and
// "server:", worded as upstream words each case, so scripts that parse
// them keep working; the agent's own version comes last, on a line
// upstream does not have.
func runVersion(ctx context.Context, x *kit.Ctx) error {
	cli := x.Inv.Version
	if cli == "" {
		cli = "unknown"
	}
	fmt.Fprintf(x.Out, "client: %s\n", cli)
	gatewayLine, serverLine := versionLines(ctx, x)
	fmt.Fprintf(x.Out, "gateway: %s\n", gatewayLine)
	fmt.Fprintf(x.Out, "server: %s\n", serverLine)
	fmt.Fprintf(x.Out, "agent: %s\n", x.Core.Version)
	return nil
}

// versionLines are the texts of the gateway and server lines.
func versionLines(ctx context.Context, x *kit.Ctx) (gw, server string) {
	const notLoggedIn = "(not logged in)"
	t, err := x.ResolveRack()
	if err != nil {
		return notLoggedIn, notLoggedIn
	}
	tok, err := x.Credential(t)
	if err != nil {
		if e := ipc.AsError(err); e.Code != ipc.CodeNotLoggedIn {
			return "(error: " + e.Message + ")", "(unavailable)"
		}
		return notLoggedIn, notLoggedIn
	}
	// Neither line should make the command hang on a slow gateway.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := x.Core.Gateway(t.URL).Info(ctx, tok)
	if err != nil {
		return "(error: " + ipc.AsError(kit.GatewayErr(t, err)).Message + ")", "(unavailable)"
	}
	gw = "(unknown)"
	if v := info.Version; v.Version != "" {
		gw = v.Version + " (" + v.CommitHash + ")"
	}
	// The rack's own version: GET /system through the proxy
	// (docs/gateway-protocol.md, "Rack proxy").
	rc := rack.New(func(ctx context.Context, req gateway.Request) (*gateway.Raw, error) { return x.Call(ctx, t, req) })
	sys, err := rc.SystemGet(ctx)
	if err != nil {
		return gw, "(unavailable)"
	}
	return gw, sys.Version
}

func runAgentStatus(_ context.Context, x *kit.Ctx) error {
	fmt.Fprintf(x.Out, "Agent: running (pid %d, version %s, up %s)\n", os.Getpid(), x.Core.Version, time.Since(x.Core.Started).Round(time.Second))
	fmt.Fprintf(x.Out, "Socket: %s\n", x.Socket)
	printServiceStatus(x)
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
		if ok, err := p.TokenState(name); err != nil {
			state = "unknown: " + ipc.AsError(kit.StoreErr(err)).Message
		} else if ok {
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

func runAgentStop(_ context.Context, x *kit.Ctx) error {
	fmt.Fprintf(x.Out, "Agent stopped (pid %d)\n", os.Getpid())
	if x.Shutdown != nil && !stopThroughService(x) {
		x.Shutdown()
	}
	return nil
}
