package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/config"
	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/agent/crash"
	"github.com/rack-gateway/rack-gateway/agent/events"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/ledger"
	"github.com/rack-gateway/rack-gateway/agent/stepup"
	"github.com/rack-gateway/rack-gateway/agent/term"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/platform/paths"
)

// Login polling follows the upstream CLI: every second for two minutes.
var (
	loginPollInterval = time.Second
	loginTimeout      = 2 * time.Minute
)

func registerLogin(r *kit.Registry) {
	r.Add(&kit.Command{
		Name:  "login",
		Usage: "login [rack] [gateway-url] [--no-open] [--auth-file FILE]",
		Short: "Sign in to a rack through the gateway's browser login",
		Long: `Sign in to a rack through the gateway's browser login.

With no arguments, signs in again to the current rack. With a rack name, signs
in to that configured rack (or to $RACK_GATEWAY_URL). With a rack name and a
gateway URL, adds the rack and signs in. The session token goes to the OS
keyring, never to config.json.`,
		MaxArgs: 2,
		Bind: func(fs *pflag.FlagSet) kit.Runner {
			o := &loginOptions{}
			fs.BoolVar(&o.noOpen, "no-open", false, "Don't open the browser; print the URL only")
			fs.StringVar(&o.authFile, "auth-file", "", "Write AUTH_URL=, STATE= and CODE_VERIFIER= lines to this file (mode 0600), for automation")
			return func(ctx context.Context, x *kit.Ctx) error { return runLogin(ctx, x, o) }
		},
	})
}

// loginOptions are one login's flags.
type loginOptions struct {
	noOpen   bool
	authFile string
}

func runLogin(ctx context.Context, x *kit.Ctx, o *loginOptions) error {
	p, err := x.Profile()
	if err != nil {
		return err
	}
	rack, rawURL, err := loginTarget(x, p.Config())
	if err != nil {
		return err
	}
	base, err := gateway.NormalizeURL(rawURL)
	if err != nil {
		return ipc.Errorf(ipc.CodeUsage, "%v", err).WithHint("Example: rack-gateway login production https://gateway.example.com")
	}
	x.Progress("Starting login for rack: %s via gateway: %s", rack, base)
	gw := x.Core.Gateway(base)
	start, err := gw.StartLogin(ctx)
	if err != nil {
		return kit.GatewayErr(nil, err)
	}
	if f := o.authFile; f != "" {
		content := fmt.Sprintf("AUTH_URL=%s\nSTATE=%s\nCODE_VERIFIER=%s\n", start.AuthURL, start.State, start.CodeVerifier)
		if err := paths.WriteFileAtomic(x.Abs(f), []byte(content), 0o600); err != nil {
			return ipc.Errorf(ipc.CodeInternal, "write auth file: %v", err)
		}
	}
	// The URL is shown only when the user has to open it: with --no-open,
	// or when no browser could be opened.
	showURL := o.noOpen
	if !o.noOpen {
		x.Progress("Opening browser for authentication...")
		res, err := x.Term.Do(ctx, ipc.Action{Kind: ipc.ActionOpenURL, URL: start.AuthURL})
		if err == nil && res.Error != "" {
			err = errors.New(res.Error)
		}
		if err != nil {
			x.Progress("Could not open a browser automatically (%v).", err)
			showURL = true
		}
	}
	if showURL {
		x.Progress("Open this URL in your browser to log in:\n%s", start.AuthURL)
	}
	cfg := p.Config()
	hostname, _ := os.Hostname()
	req := gateway.CompleteRequest{
		State: start.State, CodeVerifier: start.CodeVerifier,
		DeviceID: cfg.MachineID, DeviceName: strings.TrimSpace(hostname), DeviceOS: runtime.GOOS,
		ClientVersion: "rack-gateway/" + x.Core.Version,
	}
	// The login's terminal codes count against the same budget as step-up
	// codes. The email is known only for a rack logged in before; until
	// the login says who it was, they are kept under the gateway alone,
	// which the ledger counts for every user of that gateway.
	loginUser := base + "\x00"
	if g := cfg.Gateways[rack]; g != nil && g.URL == base {
		loginUser += g.Email
	}
	res, err := pollLogin(ctx, x, gw, req, loginUser, knownMethods(ctx, x, p, rack, base), showURL)
	if err != nil {
		return err
	}
	if user := base + "\x00" + res.Email; user != loginUser {
		if err := x.Core.MFA.Ledger.Rekey(loginUser, user); err != nil {
			x.Core.Log.Warn("could not move the login's MFA attempts to the user", "err", err)
		}
	}
	if err := p.SetToken(rack, res.Token); err != nil {
		return kit.StoreErr(err)
	}
	err = p.Update(func(c *config.Config) error {
		gwc := c.Gateways[rack]
		if gwc == nil {
			gwc = &config.Gateway{}
			c.Gateways[rack] = gwc
		}
		exp := res.ExpiresAt
		gwc.URL, gwc.Email, gwc.ExpiresAt = base, res.Email, &exp
		gwc.SessionID, gwc.Channel, gwc.MFAVerified = res.SessionID, res.Channel, res.MFAVerified
		gwc.DeviceID, gwc.DeviceName = res.DeviceID, res.DeviceName
		c.Current = rack
		return nil
	})
	if err != nil {
		return kit.ConfigErr(err)
	}
	x.Core.Log.Info("login", "rack", rack, "email", res.Email)
	key := core.SessionKey(p.Dir, rack)
	x.Core.MFA.Forget(key)
	// One info call tells the role and the window the login opened.
	if info, err := gw.Info(ctx, res.Token); err == nil {
		x.Core.SetRole(key, strings.Join(info.User.Roles, ","))
		if exp := info.User.RecentStepUpExpiresAt; exp != nil {
			x.Core.MFA.Opened(key, *exp, "login", "login")
		}
	}
	x.Core.Events.Publish(events.Event{Type: events.Login, Rack: rack, ConfigDir: p.Dir, Email: res.Email})
	x.Core.WriteStatus()
	// The product documentation's last login line (issue 10 quotes it);
	// the upstream CLI says "✓ Successfully logged in to <rack> as …".
	fmt.Fprintf(x.Out, "Logged in as %s\n", res.Email)
	return nil
}

// loginTarget works out the rack and URL from the arguments, the
// environment and the config, as the upstream CLI does.
func loginTarget(x *kit.Ctx, cfg config.Config) (rack, rawURL string, err error) {
	envURL := x.Getenv("RACK_GATEWAY_URL")
	switch len(x.Args) {
	case 2:
		rack, rawURL = strings.TrimSpace(x.Args[0]), strings.TrimSpace(x.Args[1])
		if rawURL == "" {
			return "", "", kit.UsageErr(x.Cmd, "gateway URL cannot be empty")
		}
	case 1:
		rack = strings.TrimSpace(x.Args[0])
	default:
		rack = x.G.Rack
		if rack == "" {
			rack = x.Getenv("RACK_GATEWAY_RACK")
		}
		if rack == "" {
			rack = cfg.Current
		}
		if rack == "" {
			return "", "", kit.UsageErr(x.Cmd, "no current rack selected; name the rack and its gateway URL")
		}
	}
	if rack == "" {
		return "", "", kit.UsageErr(x.Cmd, "rack name cannot be empty")
	}
	if strings.ContainsAny(rack, "/\\ \t\n") || strings.HasPrefix(rack, "(") {
		return "", "", kit.UsageErr(x.Cmd, "invalid rack name %q: use letters, digits, '-', '_' or '.'", rack)
	}
	if rawURL == "" {
		rawURL = envURL
	}
	if rawURL == "" {
		if g := cfg.Gateways[rack]; g != nil {
			rawURL = g.URL
		}
	}
	if rawURL == "" {
		return "", "", kit.UsageErr(x.Cmd, "gateway URL required for rack %s", rack)
	}
	return rack, rawURL, nil
}

func pollLogin(ctx context.Context, x *kit.Ctx, gw *gateway.Client, req gateway.CompleteRequest, user string, m loginMethods, urlShown bool) (*gateway.LoginResult, error) {
	// Once the browser finished the OAuth leg and the user has MFA, the
	// terminal may take the TOTP code too (docs/gateway-protocol.md, "CLI
	// login"): the prompt runs beside the polling and is withdrawn as soon
	// as the login completes either way.
	promptCtx, stopPrompt := context.WithCancel(ctx)
	defer stopPrompt()
	promptDone := make(chan struct{})
	defer func() { stopPrompt(); <-promptDone }()
	started := false
	startPrompt := func() {
		if started {
			return
		}
		started = true
		if !x.Term.CanPrompt() {
			close(promptDone)
			return
		}
		crash.Go("login code prompt", func() {
			defer close(promptDone)
			loginCodePrompt(promptCtx, x, gw, req.State, user)
		})
	}
	defer func() {
		if !started {
			close(promptDone)
		}
	}()
	deadline := time.Now().Add(loginTimeout)
	said, oauthDone, netFailures := false, false, 0
	announceOAuth := func() {
		if !oauthDone {
			oauthDone = true
			x.Progress("OAuth successful")
		}
	}
	tick := time.NewTicker(loginPollInterval)
	defer tick.Stop()
	// On a terminal the wait is a live line with the time left, shown
	// between polls and never while the code prompt is up; elsewhere it is
	// the one line below.
	wait := x.Spinner(func(time.Duration) string {
		return fmt.Sprintf("Waiting for login to complete in your browser (%s left; Ctrl-C to cancel)...", term.Wait(time.Until(deadline)))
	})
	for {
		// Before the code exchange the prompt would only be refused, so it
		// waits for the probe (loginLeg) to tell the exchange happened. The
		// probe comes before the poll, so that a login failing at that
		// moment (enrollment required) is reported by the poll instead.
		// The exchange is known on the first legMFA; MFA is known to be
		// awaited on the second one a poll later, once the browser's MFA
		// step had its moment to let a user without MFA through.
		mfaPending := false
		if !started {
			switch loginLeg(ctx, gw, req.State) {
			case legMFA:
				mfaPending = oauthDone
				announceOAuth()
			case legVerified:
				announceOAuth()
			}
		}
		res, err := gw.CompleteLogin(ctx, req)
		switch {
		case err == nil && res != nil:
			announceOAuth()
			return res, nil
		case err == nil:
			netFailures = 0
			if !said && urlShown && wait == nil {
				x.Progress("Waiting for login to complete in your browser (up to %s; Ctrl-C to cancel)...", loginTimeout)
			}
			said = true
			if mfaPending {
				x.Progress("MFA verification required.")
				if m.line != "" {
					x.Progress("Available methods: %s", m.line)
				}
				if m.browserKey {
					// The terminal never asks for a touch at login: the
					// assertion is bound to the browser's challenge page.
					x.Progress("Use your security key in the browser (WebAuthn at login happens there), or enter a TOTP code here.")
				}
				startPrompt()
			}
		default:
			var ne *gateway.NetError
			var ae *gateway.APIError
			switch {
			case errors.As(err, &ne) && netFailures < 3:
				// A blip while the user is in the browser should not
				// throw the login away.
				netFailures++
			case errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests:
				// Rate limited: keep polling at the same pace.
			default:
				return nil, loginErr(err)
			}
		}
		if time.Now().After(deadline) {
			return nil, ipc.Errorf(ipc.CodeGateway, "login timed out after %s waiting for the browser", loginTimeout).
				WithHint("Run the login again and finish signing in within two minutes.")
		}
		if !started {
			wait.Show()
		}
		select {
		case <-ctx.Done():
			wait.Hide()
			return nil, ipc.Interrupted("login cancelled")
		case <-tick.C:
		}
		wait.Hide()
	}
}

// Where a pending login stands, as the login leg of the MFA endpoint tells
// (docs/gateway-protocol.md, "Factor acceptance").
type leg int

const (
	legBrowser  leg = iota // the OAuth leg is not done (or the answer said nothing)
	legMFA                 // the code was exchanged; MFA is awaited
	legVerified            // MFA is already verified: the login completes
)

// loginLeg asks POST /api/v1/auth/cli/mfa with a method the gateway does
// not know. The gateway refuses it with exchange_failed or
// session_incomplete while the browser has not finished the OAuth leg,
// answers 200 once the login's MFA is verified, and otherwise — the code
// exchanged, the user known — refuses the method itself (invalid_method)
// before any verifier runs, so the probe is no MFA attempt
// (docs/gateway-protocol.md, "CLI login", "Factor acceptance").
func loginLeg(ctx context.Context, gw *gateway.Client, state string) leg {
	err := gw.CLIMFAProbe(ctx, state)
	if err == nil {
		return legVerified
	}
	var ae *gateway.APIError
	if errors.As(err, &ae) && ae.Text() == "invalid_method" {
		return legMFA
	}
	return legBrowser
}

// loginMethods is what the terminal can say about the user's MFA methods
// before the code: the gateway tells nothing about the user until the
// login completes, so it comes from the rack's previous session.
type loginMethods struct {
	line       string // "TOTP, WebAuthn"; "" when nothing is known
	browserKey bool   // WebAuthn is the user's only or preferred method
}

// knownMethods reads the MFA methods of the account last signed in on this
// rack with its session, if that is still valid. Codes of every TOTP class
// (TOTP, Yubico OTP, backup codes) go to the same terminal prompt, so they
// are one "TOTP" here.
func knownMethods(ctx context.Context, x *kit.Ctx, p *core.Profile, rack, base string) loginMethods {
	g := p.Config().Gateways[rack]
	if g == nil || g.URL != base || g.Email == "" {
		return loginMethods{}
	}
	tok, err := p.Token(rack)
	if err != nil || tok == "" {
		return loginMethods{}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := x.Core.Gateway(base).MFAStatus(ctx, tok)
	if err != nil {
		return loginMethods{}
	}
	var totp, webauthn bool
	for _, m := range st.Methods {
		if strings.EqualFold(m.Type, "webauthn") {
			webauthn = true
		} else {
			totp = true
		}
	}
	var names []string
	if totp {
		names = append(names, "TOTP")
	}
	if webauthn {
		names = append(names, "WebAuthn")
	}
	return loginMethods{
		line:       strings.Join(names, ", "),
		browserKey: webauthn && (!totp || strings.EqualFold(st.PreferredMethod, "webauthn")),
	}
}

// loginErr words the complete endpoint's failures (docs/gateway-protocol.md, "CLI login").
func loginErr(err error) error {
	var ae *gateway.APIError
	if !errors.As(err, &ae) {
		return kit.GatewayErr(nil, err)
	}
	text := ae.Text()
	e := ipc.Errorf(ipc.CodeGateway, "login failed: %s", text)
	switch {
	case strings.Contains(text, "multi-factor authentication"):
		return e.WithHint("Finish MFA enrollment in the browser, then run 'rack-gateway login' again.")
	case strings.Contains(text, "not authorized"):
		return ipc.Errorf(ipc.CodeForbidden, "login failed: %s", text).
			WithHint("Ask a gateway administrator to add your account, then log in again.")
	case strings.Contains(text, "invalid or expired state"):
		return e.WithHint("This login is no longer valid; run 'rack-gateway login' again.")
	}
	return e
}

// loginCodePrompt offers to take the login's MFA code in the terminal.
// Every code goes through the attempt ledger under user (the gateway URL
// and, when known, the email), like any step-up code.
func loginCodePrompt(ctx context.Context, x *kit.Ctx, gw *gateway.Client, state, user string) {
	led := x.Core.MFA.Ledger
	text := "Enter TOTP code:"
	for {
		if err := led.Check(user, ledger.Code, ""); err != nil {
			x.Progress("%v Finish MFA in the browser.", err)
			return
		}
		code, err := x.Term.Prompt(ctx, ipc.Prompt{Text: text, Secret: true, Command: "rack-gateway login", Reason: "login"})
		if err != nil || ctx.Err() != nil {
			return
		}
		code = stepup.NormalizeCode(code)
		if code == "" {
			continue
		}
		ticket, err := led.Reserve(user, ledger.Code, code)
		if err != nil {
			var rf *ledger.Refusal
			if errors.As(err, &rf) && (rf.Reason == "replay" || rf.Reason == "same_step") {
				x.Progress("%s", rf.Message)
				text = "Enter the next TOTP code:"
				continue
			}
			x.Progress("%v Finish MFA in the browser.", err)
			return
		}
		err = gw.CLIMFA(ctx, state, code)
		if err == nil {
			_ = ticket.Settle(ledger.Accepted)
			x.Progress("MFA verified")
			return
		}
		var ae *gateway.APIError
		if !errors.As(err, &ae) {
			_ = ticket.Settle(ledger.Rejected) // no answer: it may have been counted
			x.Progress("Could not send the code: %v", kit.GatewayErr(nil, err))
			return
		}
		switch ae.Text() {
		case "exchange_failed", "session_incomplete", "state_required":
			// Refused before any verification: the browser leg is not
			// done, so the code was never checked and is still good.
			_ = ticket.Void()
			x.Progress("Finish the browser sign-in first, then enter the code.")
		case "invalid_code":
			_ = ticket.Settle(ledger.Rejected)
			x.Progress("Invalid code.")
			text = "Enter TOTP code:"
		default:
			_ = ticket.Settle(ledger.Rejected)
			x.Progress("The gateway refused the code: %s. Finish MFA in the browser.", ae.Text())
			return
		}
	}
}
