package admin

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/commands/native"
)

// users list | show | create | delete | lock | unlock | roles set. Reads
// are level none (the list is every person's team directory, details of
// others need gateway:user:read); every change is "always".

func registerUsers(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "users list", Usage: "users list [--output json]", MaxArgs: 0,
		Short: "List the gateway's users", Bind: bindOutput(runUsersList),
	})
	r.Add(&kit.Command{
		Name: "users show", Usage: "users show <email> [--output json]", MinArgs: 1, MaxArgs: 1,
		ArgHint: "a user's e-mail", Short: "Show a gateway user", Bind: bindOutput(runUsersShow),
	})
	r.Add(&kit.Command{
		Name: "users create", Usage: "users create <email> --name NAME --role ROLE... [--output json]", MinArgs: 1, MaxArgs: 1,
		ArgHint: "the new user's e-mail", Short: "Add a gateway user (needs a new MFA proof)",
		Long: `Add a gateway user with a name and one or more roles (viewer, ops, deployer,
admin; --role may be repeated or comma-separated). The user signs in with
the gateway's identity provider and then enrols an MFA method. Needs a new
MFA proof.`,
		Bind: kit.BindNew[createOptions](),
	})
	r.Add(&kit.Command{
		Name: "users delete", Usage: "users delete <email>", MinArgs: 1, MaxArgs: 1, ArgHint: "a user's e-mail",
		Short: "Remove a gateway user and sign out their sessions (needs a new MFA proof)", Run: runUsersDelete,
	})
	r.Add(&kit.Command{
		Name: "users lock", Usage: "users lock <email> --reason TEXT", MinArgs: 1, MaxArgs: 1, ArgHint: "a user's e-mail",
		Short: "Lock a user out and sign out their sessions (needs a new MFA proof)", Bind: kit.BindNew[lockOptions](),
	})
	r.Add(&kit.Command{
		Name: "users unlock", Usage: "users unlock <email>", MinArgs: 1, MaxArgs: 1, ArgHint: "a user's e-mail",
		Short: "Unlock a locked user (needs a new MFA proof)", Run: runUsersUnlock,
	})
	r.Add(&kit.Command{
		Name: "users roles set", Usage: "users roles set <email> <role>...", MinArgs: 2, MaxArgs: -1,
		ArgHint: "an e-mail and at least one role", Short: "Replace a user's roles (needs a new MFA proof)",
		Run: runUsersRolesSet,
	})
}

// user is the gateway's User object, the fields these commands show.
type user struct {
	ID                 int64      `json:"id"`
	Email              string     `json:"email"`
	Name               string     `json:"name"`
	Roles              []string   `json:"roles"`
	CreatedAt          *time.Time `json:"created_at"`
	UpdatedAt          *time.Time `json:"updated_at"`
	Suspended          bool       `json:"suspended"`
	MFAEnrolled        bool       `json:"mfa_enrolled"`
	PreferredMFAMethod *string    `json:"preferred_mfa_method"`
	LockedAt           *time.Time `json:"locked_at"`
	LockedReason       string     `json:"locked_reason"`
	LockedByEmail      string     `json:"locked_by_email"`
	CreatedByEmail     string     `json:"created_by_email"`
}

// status is the account's state in one word.
func (u user) status() string {
	switch {
	case u.Suspended:
		return "suspended"
	case u.LockedAt != nil:
		return "locked"
	}
	return "active"
}

func (u user) mfa() string {
	if u.MFAEnrolled {
		return "enrolled"
	}
	return "not enrolled"
}

func runUsersList(ctx context.Context, x *kit.Ctx, asJSON bool) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	var list []user
	raw, err := native.GetJSON(ctx, x, t, "/users", &list)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintRaw(x.Out, raw.Body)
	}
	if len(list) == 0 {
		fmt.Fprintln(x.Out, "No users found")
		return nil
	}
	rows := make([][]string, 0, len(list))
	for _, u := range list {
		rows = append(rows, []string{u.Email, orDash(u.Name), orDash(strings.Join(u.Roles, ",")), u.mfa(), u.status()})
	}
	return kit.PrintTable(x.Out, []string{"EMAIL", "NAME", "ROLES", "MFA", "STATUS"}, rows)
}

func runUsersShow(ctx context.Context, x *kit.Ctx, asJSON bool) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	var u user
	raw, err := native.GetJSON(ctx, x, t, userPath(x.Args[0]), &u)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintRaw(x.Out, raw.Body)
	}
	pref := "-"
	if u.PreferredMFAMethod != nil {
		pref = *u.PreferredMFAMethod
	}
	kv := []string{
		"Email", u.Email, "Name", orDash(u.Name), "Roles", orDash(strings.Join(u.Roles, ", ")),
		"Status", u.status(), "MFA", u.mfa(), "Preferred MFA", pref,
	}
	if u.LockedAt != nil {
		kv = append(kv, "Locked At", stamp(u.LockedAt), "Locked By", orDash(u.LockedByEmail), "Lock Reason", orDash(u.LockedReason))
	}
	kv = append(kv, "Created", stamp(u.CreatedAt), "Created By", orDash(u.CreatedByEmail), "Updated", stamp(u.UpdatedAt))
	printInfo(x.Out, kv...)
	return nil
}

// userExists asks (level none) for a user an "always" change names, so a
// mistyped e-mail is "user not found" before a code is spent on it.
func userExists(ctx context.Context, x *kit.Ctx, t *kit.Target, email string) error {
	var u user
	_, err := native.GetJSON(ctx, x, t, userPath(email), &u)
	return err
}

// checkRoles refuses, before any MFA proof, a role the gateway does not
// list (GET /roles, level none).
func checkRoles(ctx context.Context, x *kit.Ctx, t *kit.Target, roles []string) error {
	var known map[string]struct {
		Name string `json:"name"`
	}
	if _, err := native.GetJSON(ctx, x, t, "/roles", &known); err != nil {
		return err
	}
	for _, r := range roles {
		if _, ok := known[r]; !ok {
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			sort.Strings(names)
			return kit.UsageErr(x.Cmd, "unknown role %q: the gateway's roles are %s", r, strings.Join(names, ", "))
		}
	}
	return nil
}

// cleanRoles trims roles and drops empty ones and repeats.
func cleanRoles(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range in {
		if r = strings.TrimSpace(r); r != "" && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// createOptions are users create's flags.
type createOptions struct {
	name   string
	roles  []string
	output kit.Output
}

func (o *createOptions) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&o.name, "name", "", "The user's display name")
	fs.StringSliceVar(&o.roles, "role", nil, "A role to give (repeatable: viewer, ops, deployer, admin)")
	kit.BindOutput(fs, &o.output, "o", "", "Output format (json)")
}

func (o *createOptions) Run(ctx context.Context, x *kit.Ctx) error {
	asJSON, err := o.output.JSON(x.Cmd)
	if err != nil {
		return err
	}
	roles := cleanRoles(o.roles)
	switch {
	case strings.TrimSpace(o.name) == "":
		return kit.UsageErr(x.Cmd, "--name is required")
	case len(roles) == 0:
		return kit.UsageErr(x.Cmd, "at least one --role is required")
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	if err := checkRoles(ctx, x, t, roles); err != nil {
		return err
	}
	email := strings.TrimSpace(x.Args[0])
	raw, err := native.Call(ctx, x, t, http.MethodPost, "/users",
		map[string]any{"email": email, "name": strings.TrimSpace(o.name), "roles": roles})
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintRaw(x.Out, raw.Body)
	}
	var u user
	if err := native.Decode(raw, &u); err != nil {
		return err
	}
	fmt.Fprintf(x.Out, "Created user %s (%s) with roles: %s\n", u.Email, u.Name, strings.Join(u.Roles, ", "))
	return nil
}

func runUsersDelete(ctx context.Context, x *kit.Ctx) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	email := x.Args[0]
	if err := userExists(ctx, x, t, email); err != nil {
		return err
	}
	if _, err := native.Call(ctx, x, t, http.MethodDelete, userPath(email), nil); err != nil {
		return err
	}
	fmt.Fprintf(x.Out, "Deleted user %s\n", email)
	return nil
}

// lockOptions are users lock's flags.
type lockOptions struct{ reason string }

func (o *lockOptions) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&o.reason, "reason", "", "Why the account is locked (shown to administrators)")
}

func (o *lockOptions) Run(ctx context.Context, x *kit.Ctx) error {
	if strings.TrimSpace(o.reason) == "" {
		return kit.UsageErr(x.Cmd, "--reason is required")
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	email := x.Args[0]
	if err := userExists(ctx, x, t, email); err != nil {
		return err
	}
	if _, err := native.Call(ctx, x, t, http.MethodPost, userPath(email, "lock"), map[string]string{"reason": o.reason}); err != nil {
		return err
	}
	fmt.Fprintf(x.Out, "Locked %s; their sessions were signed out\n", email)
	return nil
}

func runUsersUnlock(ctx context.Context, x *kit.Ctx) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	email := x.Args[0]
	if err := userExists(ctx, x, t, email); err != nil {
		return err
	}
	if _, err := native.Call(ctx, x, t, http.MethodPost, userPath(email, "unlock"), nil); err != nil {
		return err
	}
	fmt.Fprintf(x.Out, "Unlocked %s\n", email)
	return nil
}

func runUsersRolesSet(ctx context.Context, x *kit.Ctx) error {
	email, roles := x.Args[0], cleanRoles(x.Args[1:])
	if len(roles) == 0 {
		return kit.UsageErr(x.Cmd, "users roles set requires at least one role")
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	if err := checkRoles(ctx, x, t, roles); err != nil {
		return err
	}
	if err := userExists(ctx, x, t, email); err != nil {
		return err
	}
	raw, err := native.Call(ctx, x, t, http.MethodPut, userPath(email), map[string]any{"roles": roles})
	if err != nil {
		return err
	}
	var u user
	if err := native.Decode(raw, &u); err != nil {
		return err
	}
	fmt.Fprintf(x.Out, "Roles of %s: %s\n", u.Email, strings.Join(u.Roles, ", "))
	return nil
}
