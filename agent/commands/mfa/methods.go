package mfa

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/ipc"
)

func registerMethods(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "mfa methods", Usage: "mfa methods [--output json]", MaxArgs: 0,
		Short: "List your MFA methods, your preferred one and your backup codes left",
		Bind:  kit.BindNew[listOptions](),
	})
	r.Add(&kit.Command{
		Name: "mfa methods rename", Usage: "mfa methods rename <id> <label>", MinArgs: 2, MaxArgs: 2,
		ArgHint: "a method id and a label", Short: "Rename an MFA method (step-up)", Run: runRename,
	})
	r.Add(&kit.Command{
		Name: "mfa methods remove", Usage: "mfa methods remove <id>", MinArgs: 1, MaxArgs: 1,
		ArgHint: "a method id", Short: "Remove an MFA method (needs a new MFA proof)", Run: runRemove,
	})
	r.Add(&kit.Command{
		Name: "mfa preferred", Usage: "mfa preferred totp|webauthn|none", MinArgs: 1, MaxArgs: 1,
		ArgHint: "totp, webauthn or none", Short: "Set the MFA method the gateway asks for first (step-up)", Run: runPreferred,
	})
	r.Add(&kit.Command{
		Name: "mfa backup-codes regenerate", Usage: "mfa backup-codes regenerate", MaxArgs: 0,
		Short: "Make ten new backup codes; every earlier one stops working (step-up)", Run: runRegenerate,
	})
	r.Add(&kit.Command{
		Name: "mfa trusted-devices", Usage: "mfa trusted-devices [--output json]", MaxArgs: 0,
		Short: "List the browsers you told the gateway to trust",
		Bind:  kit.BindNew[trustedOptions](),
	})
	r.Add(&kit.Command{
		Name: "mfa trusted-devices remove", Usage: "mfa trusted-devices remove <id>", MinArgs: 1, MaxArgs: 1,
		ArgHint: "a trusted device id", Short: "Revoke a trusted device (step-up)", Run: runUntrust,
	})
}

// listOptions are mfa methods' flags.
type listOptions struct{ output kit.Output }

func (o *listOptions) Bind(fs *pflag.FlagSet) {
	kit.BindOutput(fs, &o.output, "o", "", "Output format (json)")
}

func (o *listOptions) Run(ctx context.Context, x *kit.Ctx) error {
	asJSON, err := o.output.JSON(x.Cmd)
	if err != nil {
		return err
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	st, err := getStatus(ctx, x, t)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintRaw(x.Out, emptyList(st.rawMethods))
	}
	if len(st.Methods) == 0 {
		fmt.Fprintln(x.Out, "No MFA methods enrolled")
	} else {
		tw := tabwriter.NewWriter(x.Out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTYPE\tLABEL\tCLI\tCREATED\tLAST USED")
		for _, m := range st.Methods {
			cli := "-"
			if m.Type == "webauthn" {
				cli = map[bool]string{true: "yes", false: "no"}[m.CLICapable]
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Type, orDash(m.Label), cli, stamp(&m.CreatedAt), stamp(m.LastUsedAt))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(x.Out, "Preferred method: %s\n", orDash(st.PreferredMethod))
	fmt.Fprintf(x.Out, "Backup codes: %d of %d unused\n", st.BackupCodes.Unused, st.BackupCodes.Total)
	return nil
}

// emptyList is body, or [] when the server sent none (null or absent).
func emptyList(body []byte) []byte {
	if s := strings.TrimSpace(string(body)); s == "" || s == "null" {
		return []byte("[]")
	}
	return body
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// stamp is a time as people read it here: local, to the minute.
func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// parseID reads an id argument; a typo is refused here, before any MFA
// prompt, rather than by the server after a code was spent.
func parseID(x *kit.Ctx, arg, what string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(arg), 10, 64)
	if err != nil || id <= 0 {
		return 0, kit.UsageErr(x.Cmd, "%q is not a %s id: ids are the numbers in the first column of 'rack-gateway %s'", arg, what, listCommand(what))
	}
	return id, nil
}

func listCommand(what string) string {
	if what == "trusted device" {
		return "mfa trusted-devices"
	}
	return "mfa methods"
}

// findMethod reads the status and returns the method with id, so a wrong
// id is said before the user is asked for a code.
func findMethod(ctx context.Context, x *kit.Ctx, t *kit.Target, id int64) (*status, *method, error) {
	st, err := getStatus(ctx, x, t)
	if err != nil {
		return nil, nil, err
	}
	for i := range st.Methods {
		if st.Methods[i].ID == id {
			return st, &st.Methods[i], nil
		}
	}
	return nil, nil, ipc.Errorf(ipc.CodeNotFound, "you have no MFA method %d", id).
		WithHint("'rack-gateway mfa methods' lists yours (nothing was changed, and no MFA code was asked for).")
}

func runRename(ctx context.Context, x *kit.Ctx) error {
	id, err := parseID(x, x.Args[0], "method")
	if err != nil {
		return err
	}
	label := strings.TrimSpace(x.Args[1])
	if label == "" {
		return kit.UsageErr(x.Cmd, "the label is empty")
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	if _, _, err := findMethod(ctx, x, t, id); err != nil {
		return err
	}
	if _, err := call(ctx, x, t, http.MethodPut, pathMethod+strconv.FormatInt(id, 10), map[string]string{"label": label}, nil); err != nil {
		return err
	}
	fmt.Fprintf(x.Out, "Renamed method %d to %q\n", id, label)
	return nil
}

func runRemove(ctx context.Context, x *kit.Ctx) error {
	id, err := parseID(x, x.Args[0], "method")
	if err != nil {
		return err
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	st, m, err := findMethod(ctx, x, t, id)
	if err != nil {
		return err
	}
	if len(st.Methods) == 1 {
		x.Progress("%s is your last MFA method: without one the gateway asks you to enroll again before anything else.", describe(m))
	}
	if _, err := call(ctx, x, t, http.MethodDelete, pathMethod+strconv.FormatInt(id, 10), nil, nil); err != nil {
		return err
	}
	if tok, err := x.Credential(t); err == nil {
		x.Core.MFA.Unknown(x.MFASession(t, tok).Key) // its method list changed
	}
	fmt.Fprintf(x.Out, "Removed %s\n", describe(m))
	return nil
}

// describe names a method: `method 7 (totp "Phone")`.
func describe(m *method) string {
	if m.Label == "" {
		return fmt.Sprintf("method %d (%s)", m.ID, m.Type)
	}
	return fmt.Sprintf("method %d (%s %q)", m.ID, m.Type, m.Label)
}

func runPreferred(ctx context.Context, x *kit.Ctx) error {
	var pref any
	switch v := strings.ToLower(strings.TrimSpace(x.Args[0])); v {
	case "totp", "webauthn":
		pref = v
	case "none":
		pref = nil // the gateway's own order again
	default:
		return kit.UsageErr(x.Cmd, "unknown method %q: use totp, webauthn or none", x.Args[0])
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	if _, err := call(ctx, x, t, http.MethodPut, pathPreferred, map[string]any{"preferred_method": pref}, nil); err != nil {
		return err
	}
	if tok, err := x.Credential(t); err == nil {
		x.Core.MFA.Unknown(x.MFASession(t, tok).Key) // the engine's method choice reads it
	}
	if pref == nil {
		fmt.Fprintln(x.Out, "Preferred MFA method cleared")
		return nil
	}
	fmt.Fprintf(x.Out, "Preferred MFA method: %s\n", pref)
	return nil
}

func runRegenerate(ctx context.Context, x *kit.Ctx) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	var res struct {
		BackupCodes []string `json:"backup_codes"`
	}
	if _, err := call(ctx, x, t, http.MethodPost, pathRegenerate, nil, &res); err != nil {
		return err
	}
	if len(res.BackupCodes) == 0 {
		return ipc.Errorf(ipc.CodeGateway, "the gateway answered no backup codes")
	}
	printBackupCodes(x, res.BackupCodes, "New backup codes (every earlier one no longer works):")
	return nil
}

// trustedOptions are mfa trusted-devices' flags.
type trustedOptions struct{ output kit.Output }

func (o *trustedOptions) Bind(fs *pflag.FlagSet) {
	kit.BindOutput(fs, &o.output, "o", "", "Output format (json)")
}

func (o *trustedOptions) Run(ctx context.Context, x *kit.Ctx) error {
	asJSON, err := o.output.JSON(x.Cmd)
	if err != nil {
		return err
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	st, err := getStatus(ctx, x, t)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintRaw(x.Out, emptyList(st.rawTrusted))
	}
	if len(st.TrustedDevices) == 0 {
		fmt.Fprintln(x.Out, "No trusted devices")
		return nil
	}
	tw := tabwriter.NewWriter(x.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLABEL\tCREATED\tLAST USED\tEXPIRES")
	for _, d := range st.TrustedDevices {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", d.ID, orDash(d.Label), stamp(&d.CreatedAt), stamp(d.LastUsedAt), stamp(&d.ExpiresAt))
	}
	return tw.Flush()
}

func runUntrust(ctx context.Context, x *kit.Ctx) error {
	id, err := parseID(x, x.Args[0], "trusted device")
	if err != nil {
		return err
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	st, err := getStatus(ctx, x, t)
	if err != nil {
		return err
	}
	found := false
	for _, d := range st.TrustedDevices {
		found = found || d.ID == id
	}
	if !found {
		return ipc.Errorf(ipc.CodeNotFound, "you have no trusted device %d", id).
			WithHint("'rack-gateway mfa trusted-devices' lists yours (nothing was changed, and no MFA code was asked for).")
	}
	if _, err := call(ctx, x, t, http.MethodDelete, pathTrusted+strconv.FormatInt(id, 10), nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(x.Out, "Revoked trusted device %d\n", id)
	return nil
}
