// Package mfa holds `rack-gateway mfa`: the session's MFA state, enrolling
// an authenticator app (drawn as a QR code in the terminal), a security
// key or a YubiKey, and managing methods, backup codes and trusted devices,
// all through the gateway's native API (docs/gateway-protocol.md, "MFA
// enrolment and management").
//
// Every request goes through kit's Call, so each gets the MFA level its
// route has on the server; a code this package sends itself (an enrolment
// confirmation) is reserved in the attempt ledger first, and a
// confirmation that opens a step-up window hands it to the engine.
package mfa

import (
	"context"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// Register adds this package's commands to r.
func Register(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "mfa status", Usage: "mfa status", MaxArgs: 0,
		Short: "Show your MFA state: methods, last verification and the step-up window (as test-auth mfa)",
		Run:   runStatus,
	})
	registerEnroll(r)
	registerMethods(r)
	registerRenew(r)
}

// runStatus is `test-auth mfa`, the one place that block is written: it
// reads the status and sends no code, so it spends no attempt.
func runStatus(ctx context.Context, x *kit.Ctx) error {
	ta := x.Registry.Get("test-auth")
	if ta == nil || ta.Run == nil {
		return ipc.Errorf(ipc.CodeInternal, "mfa status needs the test-auth command, which this build lacks")
	}
	x.Args = []string{"mfa"}
	return ta.Run(ctx, x)
}
