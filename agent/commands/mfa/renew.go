package mfa

import (
	"context"
	"fmt"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// registerRenew adds `mfa renew`: a verification now, so a long command
// (a deploy that waits for its rollout) runs in a whole window instead of
// stopping for a prompt halfway.
func registerRenew(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "mfa renew", Usage: "mfa renew [--mfa-code CODE] [--mfa-method totp|webauthn]", MaxArgs: 0,
		Short: "Open a new step-up window now, ahead of a long command (one MFA verification)",
		Long: `Open a new step-up window now, ahead of a long command such as a deploy, so
that it does not stop halfway to ask for a code. It runs one verification,
even while the current window is open: the method order and the attempt
ledger are those of any step-up, and every terminal then shares the new
window.

A command run in a window's last minute says so first ("Step-up window for
production expires in 48s"); stepup_notice_seconds in config.json changes
that lead time, and 0 turns the notice off.`,
		Run: runRenew,
	})
}

func runRenew(ctx context.Context, x *kit.Ctx) error {
	// The old window's end need not be announced by the command that
	// replaces it.
	x.SkipStepUpNotice()
	if x.APIToken() != "" {
		return ipc.Errorf(ipc.CodeUsage, "API tokens have no step-up window to renew: they never need MFA").
			WithHint("Unset RACK_GATEWAY_API_TOKEN (or drop --api-token) to renew your own session's window.")
	}
	ss, err := openSession(x)
	if err != nil {
		return err
	}
	r := x.MFARequest(ctx, ss.t)
	r.Force = true // verify even while the window is still open
	eng := x.Core.MFA
	if err := eng.EnsureWindow(ctx, ss.s, x.Term, r); err != nil {
		return kit.GatewayErr(ss.t, err)
	}
	w := eng.Window(ss.s.Key)
	left := time.Until(w.ExpiresAt)
	if w.ExpiresAt.IsZero() || left <= 0 {
		// The verification passed, but the answer gave no window.
		fmt.Fprintf(x.Out, "MFA verified for %s\n", ss.t.Name)
		return nil
	}
	fmt.Fprintf(x.Out, "Step-up window for %s renewed: expires in %s\n", ss.t.Name, minutes(left))
	return nil
}
