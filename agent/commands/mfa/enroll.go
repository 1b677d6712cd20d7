package mfa

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/commands/native"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/ledger"
	"github.com/rack-gateway/rack-gateway/agent/stepup"
	"github.com/rack-gateway/rack-gateway/ipc"
)

func registerEnroll(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "mfa enroll totp", Usage: "mfa enroll totp [--label LABEL] [--qr-png FILE]", MaxArgs: 0,
		Short: "Add an authenticator app: scan the QR code, then confirm with a code",
		Long: `Add an authenticator app. The gateway makes a new secret; it is drawn as a
QR code in the terminal (or written to --qr-png FILE) and shown as text, then
a code from the app confirms it. The confirmation opens a step-up window.

Starting replaces your backup codes at once (the gateway does so); the new
ones are shown at the end, once.`,
		Bind: kit.BindNew[enrollTOTPOptions](),
	})
	r.Add(&kit.Command{
		Name: "mfa enroll webauthn", Usage: "mfa enroll webauthn [--label LABEL]", MaxArgs: 0,
		Short: "Add a security key (FIDO2/WebAuthn): touch it when asked",
		Bind:  kit.BindNew[enrollKeyOptions](),
	})
	r.Add(&kit.Command{
		Name: "mfa enroll yubiotp", Usage: "mfa enroll yubiotp", MaxArgs: 0,
		Short: "Add a YubiKey's one-time passwords: touch the key when asked",
		Run:   runEnrollYubiOTP,
	})
}

// enrollTOTPOptions are mfa enroll totp's flags.
type enrollTOTPOptions struct {
	label string
	qrPNG string
}

func (o *enrollTOTPOptions) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&o.label, "label", "", `Name for the app in your method list (the gateway's default: "Authenticator App")`)
	fs.StringVar(&o.qrPNG, "qr-png", "", "Write the QR code to this PNG file instead of drawing it")
}

// totpStart is the answer of enroll/totp/start.
type totpStart struct {
	MethodID    int64    `json:"method_id"`
	Secret      string   `json:"secret"`
	URI         string   `json:"uri"`
	BackupCodes []string `json:"backup_codes"`
}

func (o *enrollTOTPOptions) Run(ctx context.Context, x *kit.Ctx) (err error) {
	// The start replaces the backup codes, so nothing is sent unless the
	// code can be asked for.
	if !x.Term.CanPrompt() {
		return needTerminal("mfa enroll totp")
	}
	ss, err := openSession(x)
	if err != nil {
		return err
	}
	var st totpStart
	if _, err := call(ctx, x, ss.t, http.MethodPost, pathTOTPStart, nil, &st); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			printBackupCodes(x, st.BackupCodes, "The gateway replaced your backup codes when the enrolment started, though the app was not added. These work now:")
		}
	}()
	o.showSecret(x, &st)
	raw, err := ss.sendCodes(ctx, x, codeStep{
		command: "rack-gateway mfa enroll totp",
		prompt:  "Code from your authenticator app:",
		send: func(code string) (*gateway.Raw, error) {
			body := map[string]any{"method_id": st.MethodID, "code": code, "trust_device": false}
			if o.label != "" {
				body["label"] = o.label
			}
			return send(ctx, x, ss.t, http.MethodPost, pathTOTPConfirm, body)
		},
		// A wrong code leaves the method pending; another code may follow.
		retry: func(text string) bool { return text == "invalid code" },
	})
	if err != nil {
		return err
	}
	var res gateway.VerifyResult
	if err := native.Decode(raw, &res); err != nil {
		return err
	}
	// The confirmation opened a full window; the method list changed
	// (another TOTP secret matters to the ledger), so the engine reads
	// the status again before it next relies on what it knew.
	eng := x.Core.MFA
	eng.Opened(ss.s.Key, res.RecentStepUpExpiresAt, "totp", who(x))
	eng.Unknown(ss.s.Key)
	label := o.label
	if label == "" {
		label = "Authenticator App"
	}
	fmt.Fprintf(x.Out, "Authenticator app %q enrolled (method %d).\n", label, st.MethodID)
	if left := time.Until(res.RecentStepUpExpiresAt); left > 0 {
		x.Progress("MFA verified: the step-up window is open for %s.", minutes(left))
	}
	printBackupCodes(x, st.BackupCodes, "Backup codes (every earlier one no longer works):")
	return nil
}

// minutes words a window's length as people say it.
func minutes(d time.Duration) string {
	switch m := int(d.Round(time.Minute).Minutes()); {
	case d < 90*time.Second:
		return fmt.Sprintf("%d seconds", int(d.Round(time.Second).Seconds()))
	default:
		return fmt.Sprintf("%d minutes", m)
	}
}

// showSecret draws the QR code (or writes the PNG) and prints the secret
// and the URI, for apps that take them typed or pasted.
func (o *enrollTOTPOptions) showSecret(x *kit.Ctx, st *totpStart) {
	m, qerr := qrMatrix(st.URI)
	switch {
	case qerr != nil:
		x.Progress("Cannot draw a QR code (%v); type the secret into your authenticator app.", qerr)
	case o.qrPNG != "":
		path := x.Abs(o.qrPNG)
		if err := writePNG(path, m); err != nil {
			x.Progress("Cannot write %s (%v); scan this QR code instead:", o.qrPNG, err)
			_ = renderHalfBlocks(x.Out, m, colour(x))
			break
		}
		x.Progress("Wrote the QR code to %s. It holds the secret: delete the file once the app has it.", path)
	default:
		x.Progress("Scan this QR code with your authenticator app:")
		_ = renderHalfBlocks(x.Out, m, colour(x))
	}
	fmt.Fprintf(x.Out, "Secret: %s\n", st.Secret)
	fmt.Fprintf(x.Out, "URI: %s\n", st.URI)
}

// colour reports whether the QR code may use ANSI colours: only on a
// terminal, and never under NO_COLOR (set and not empty, as no-color.org
// has it).
func colour(x *kit.Ctx) bool {
	return x.Term.TTY().Stdout && x.Getenv("NO_COLOR") == ""
}

func writePNG(path string, m [][]bool) error {
	data, err := qrPNG(m)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	return os.Chmod(path, 0o600) // an existing file keeps its mode otherwise
}

// codeStep is one code a command sends itself.
type codeStep struct {
	command, prompt string
	send            func(code string) (*gateway.Raw, error)
	// retry reports whether the server's refusal (its text) lets the
	// user try another code.
	retry func(text string) bool
	// raw, when set, keeps the answer as typed (trimmed) instead of
	// NormalizeCode's TOTP and backup-code rules.
	raw bool
}

// sendCodes asks for a code until the gateway accepts one, as the engine
// does for step-up: the ledger is asked before each prompt, every code is
// reserved before it is sent and settled with the answer, and a refusal
// the user can get past (a wrong code, a code already used) asks again.
// The gateway counts no enrolment confirmation, but the ledger counts
// each: it errs on the side of the account.
func (ss *session) sendCodes(ctx context.Context, x *kit.Ctx, c codeStep) (*gateway.Raw, error) {
	led := x.Core.MFA.Ledger
	user := ss.s.User
	text := c.prompt
	x.MFAUsed("prompted")
	for {
		if err := led.Check(user, ledger.Code, ""); err != nil {
			return nil, ledgerErr(err)
		}
		answer, err := x.Term.Prompt(ctx, ipc.Prompt{Text: text, Secret: true, Rack: ss.t.Name, Command: c.command, Reason: "mfa"})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ipc.Interrupted("interrupted")
			}
			return nil, err
		}
		code := strings.TrimSpace(answer)
		if !c.raw {
			code = stepup.NormalizeCode(answer)
		}
		if code == "" {
			x.Progress("No code entered.")
			continue
		}
		tk, err := led.Reserve(user, ledger.Code, code)
		if rf, ok := retryable(err); ok {
			x.Progress("%s", rf.Message)
			text = "Next " + strings.ToLower(c.prompt[:1]) + c.prompt[1:]
			continue
		}
		if err != nil {
			return nil, ledgerErr(err)
		}
		raw, err := c.send(code)
		if err != nil {
			_ = tk.Settle(ledger.Rejected) // a lost answer may have been counted
			return nil, err
		}
		if raw.Status/100 == 2 {
			_ = tk.Settle(ledger.Accepted)
			return raw, nil
		}
		_ = tk.Settle(ledger.Rejected)
		words := gateway.NewAPIError(http.MethodPost, raw).Text()
		if raw.Status == http.StatusBadRequest && c.retry(words) {
			x.Progress("The gateway refused the code: %s.", words)
			continue
		}
		return nil, kit.ResponseErr(ss.t, http.MethodPost, raw)
	}
}

// yubiEnrolled is the answer of enroll/yubiotp/start.
type yubiEnrolled struct {
	MethodID    int64    `json:"method_id"`
	BackupCodes []string `json:"backup_codes"`
}

func runEnrollYubiOTP(ctx context.Context, x *kit.Ctx) error {
	if !x.Term.CanPrompt() {
		return needTerminal("mfa enroll yubiotp")
	}
	ss, err := openSession(x)
	if err != nil {
		return err
	}
	raw, err := ss.sendCodes(ctx, x, codeStep{
		command: "rack-gateway mfa enroll yubiotp",
		prompt:  "Touch your YubiKey (it types a one-time password):",
		raw:     true,
		send: func(otp string) (*gateway.Raw, error) {
			return send(ctx, x, ss.t, http.MethodPost, pathYubiEnroll, map[string]string{"yubi_otp": otp})
		},
		// A mistyped or stale OTP: touch again. A key already enrolled
		// stays so whatever it types.
		retry: func(text string) bool { return strings.HasPrefix(text, "invalid Yubikey OTP") },
	})
	if err != nil {
		return err
	}
	var res yubiEnrolled
	if err := native.Decode(raw, &res); err != nil {
		return err
	}
	x.Core.MFA.Unknown(ss.s.Key)
	fmt.Fprintf(x.Out, "YubiKey enrolled (method %d).\n", res.MethodID)
	printBackupCodes(x, res.BackupCodes, "Backup codes:")
	return nil
}
