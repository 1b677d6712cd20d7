package native

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// api-token: the gateway's API tokens. Create and delete are "always" MFA
// routes (docs/gateway-protocol.md, "MFA levels"); x.Call attaches a new
// proof to each.

func registerTokens(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "api-token list", Usage: "api-token list [--output json]", MaxArgs: 0,
		Short: "List API tokens", Bind: kit.BindNew[tokenListOptions](),
	})
	r.Add(&kit.Command{
		Name: "api-token get", Usage: "api-token get <token-id> [--output json]", MinArgs: 1, MaxArgs: 1,
		ArgHint: "a token id", Short: "Show details for an API token", Bind: kit.BindNew[tokenGetOptions](),
	})
	r.Add(&kit.Command{
		Name:  "api-token create",
		Usage: "api-token create --name NAME [--role ROLE] [--permission PERM]... [--output text|json|token]",
		Short: "Create a new API token", MaxArgs: 0,
		Long: `Create a new API token. The secret is shown only once.

--role grants the permissions of a built-in role (viewer, ops, deployer, cicd,
admin), resolved from the gateway's role list; --permission adds more.
Creating a token needs a new MFA proof.`,
		Bind: kit.BindNew[tokenCreateOptions](),
	})
	r.Add(&kit.Command{
		Name: "api-token delete", Usage: "api-token delete <token-id>", MinArgs: 1, MaxArgs: 1,
		ArgHint: "a token id", Short: "Delete an API token (needs a new MFA proof)", Run: runTokenDelete,
	})
}

// listingOutput is the output flags of the api-token listings: upstream's
// --json and --output.
type listingOutput struct {
	json   bool
	output kit.Output
}

func (o *listingOutput) bind(fs *pflag.FlagSet) {
	fs.BoolVar(&o.json, "json", false, "Output as JSON")
	kit.BindOutput(fs, &o.output, "o", "", "Output format (json)")
}

// format is the format asked for: --json wins over --output.
func (o listingOutput) format(cmd *kit.Command, allowed ...string) (string, error) {
	if o.json {
		return "json", nil
	}
	return o.output.Format(cmd, allowed...)
}

// tokenListOptions are api-token list's flags.
type tokenListOptions struct{ out listingOutput }

func (o *tokenListOptions) Bind(fs *pflag.FlagSet) { o.out.bind(fs) }

// tokenGetOptions are api-token get's flags.
type tokenGetOptions struct{ out listingOutput }

func (o *tokenGetOptions) Bind(fs *pflag.FlagSet) { o.out.bind(fs) }

// tokenCreateOptions are api-token create's flags.
type tokenCreateOptions struct {
	name        string
	user        string   // another user's e-mail (admin only)
	permissions []string // --permission, repeatable or comma-separated
	role        string   // a built-in role, resolved to its permissions
	expiresAt   string   // RFC3339
	output      kit.Output
}

func (o *tokenCreateOptions) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&o.name, "name", "", "Display name for the token")
	fs.StringVar(&o.user, "user", "", "Create token for another user (admin only)")
	fs.StringSliceVar(&o.permissions, "permission", nil, "Permission to grant (repeatable)")
	fs.StringVar(&o.role, "role", "", "Shortcut role to grant (viewer, ops, deployer, cicd, admin)")
	fs.StringVar(&o.expiresAt, "expires-at", "", "Optional expiration time (RFC3339)")
	kit.BindOutput(fs, &o.output, "o", "text", "Output format: text, json, token")
}

// token is the gateway's APIToken object.
type token struct {
	ID              int64      `json:"id"`
	PublicID        string     `json:"public_id"`
	Name            string     `json:"name"`
	UserID          int64      `json:"user_id"`
	CreatedByUserID *int64     `json:"created_by_user_id"`
	CreatedByEmail  string     `json:"created_by_email,omitempty"`
	CreatedByName   string     `json:"created_by_name,omitempty"`
	Permissions     []string   `json:"permissions"`
	CreatedAt       time.Time  `json:"created_at"`
	ExpiresAt       *time.Time `json:"expires_at"`
	LastUsedAt      *time.Time `json:"last_used_at"`
}

func (o *tokenListOptions) Run(ctx context.Context, x *kit.Ctx) error {
	format, err := o.out.format(x.Cmd, "", "text", "table", "json")
	if err != nil {
		return err
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	var tokens []token
	raw, err := getJSON(ctx, x, t, "/api-tokens", &tokens)
	if err != nil {
		return err
	}
	if format == "json" {
		return kit.PrintRaw(x.Out, raw.Body)
	}
	if len(tokens) == 0 {
		fmt.Fprintln(x.Out, "No API tokens found")
		return nil
	}
	const row = "%-36s %-25s %-25s %-19s %-19s\n"
	fmt.Fprintf(x.Out, row, "UUID", "NAME", "OWNER", "CREATED", "LAST USED")
	for _, tk := range tokens {
		owner := tk.CreatedByEmail
		if owner == "" {
			owner = fmt.Sprintf("user:%d", tk.UserID)
		}
		last := "-"
		if tk.LastUsedAt != nil {
			last = tk.LastUsedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(x.Out, row, tk.PublicID, tk.Name, owner, tk.CreatedAt.Format(time.RFC3339), last)
	}
	return nil
}

func (o *tokenGetOptions) Run(ctx context.Context, x *kit.Ctx) error {
	format, err := o.out.format(x.Cmd, "", "text", "json")
	if err != nil {
		return err
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	var tk token
	raw, err := getJSON(ctx, x, t, "/api-tokens/"+url.PathEscape(x.Args[0]), &tk)
	if err != nil {
		return err
	}
	if format == "json" {
		return kit.PrintRaw(x.Out, raw.Body)
	}
	w := x.Out
	fmt.Fprintf(w, "Public ID: %s\n", tk.PublicID)
	fmt.Fprintf(w, "Internal ID: %d\n", tk.ID)
	fmt.Fprintf(w, "Name: %s\n", tk.Name)
	fmt.Fprintf(w, "Owner User ID: %d\n", tk.UserID)
	if tk.CreatedByEmail != "" {
		fmt.Fprintf(w, "Created By: %s (%s)\n", tk.CreatedByName, tk.CreatedByEmail)
	}
	if tk.CreatedByUserID != nil {
		fmt.Fprintf(w, "Created By User ID: %d\n", *tk.CreatedByUserID)
	}
	fmt.Fprintf(w, "Created At: %s\n", tk.CreatedAt.Format(time.RFC3339))
	if tk.ExpiresAt != nil {
		fmt.Fprintf(w, "Expires At: %s\n", tk.ExpiresAt.Format(time.RFC3339))
	} else {
		fmt.Fprintln(w, "Expires At: never")
	}
	if tk.LastUsedAt != nil {
		fmt.Fprintf(w, "Last Used: %s\n", tk.LastUsedAt.Format(time.RFC3339))
	}
	perms := append([]string(nil), tk.Permissions...)
	sort.Strings(perms)
	list := ""
	if len(perms) > 0 {
		list = "\n  - " + strings.Join(perms, "\n  - ")
	}
	fmt.Fprintf(w, "Permissions:%s\n", list)
	return nil
}

// permMeta is the part of GET /api-tokens/permissions that create uses.
type permMeta struct {
	Roles []struct {
		Name        string   `json:"name"`
		Permissions []string `json:"permissions"`
	} `json:"roles"`
}

func (o *tokenCreateOptions) Run(ctx context.Context, x *kit.Ctx) error {
	name, user, perms, role, expires := o.name, o.user, o.permissions, o.role, o.expiresAt
	// Check the format before anything costs an MFA proof.
	format, err := o.output.Format(x.Cmd, "text", "", "table", "json", "token")
	if err != nil {
		return err
	}
	if strings.TrimSpace(name) == "" {
		return kit.UsageErr(x.Cmd, "--name is required")
	}
	var expiresAt string
	if strings.TrimSpace(expires) != "" {
		ts, err := time.Parse(time.RFC3339, expires)
		if err != nil {
			return kit.UsageErr(x.Cmd, "invalid --expires-at value (use RFC3339): %v", err)
		}
		// Upstream sends it; the server ignores it.
		expiresAt = ts.Format(time.RFC3339)
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	// The role is resolved client-side, like upstream, so the token gets the
	// role's permission list (plus any --permission) rather than a role name.
	var meta permMeta
	if _, err := getJSON(ctx, x, t, "/api-tokens/permissions", &meta); err != nil {
		return err
	}
	if role == "" && len(perms) == 0 {
		return kit.UsageErr(x.Cmd, "--role or --permission is required")
	}
	set := map[string]bool{}
	add := func(ps ...string) {
		for _, p := range ps {
			if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
				set[p] = true
			}
		}
	}
	if role != "" {
		found := false
		for _, r := range meta.Roles {
			if r.Name == role {
				add(r.Permissions...)
				found = true
				break
			}
		}
		if !found {
			return kit.UsageErr(x.Cmd, "unknown role %q", role)
		}
	}
	add(perms...)
	list := make([]string, 0, len(set))
	for p := range set {
		list = append(list, p)
	}
	sort.Strings(list)
	body := map[string]any{"name": name, "permissions": list}
	if user != "" {
		body["user_email"] = user
	}
	if expiresAt != "" {
		body["expires_at"] = expiresAt
	}
	raw, err := call(ctx, x, t, http.MethodPost, "/api-tokens", body)
	if err != nil {
		return err
	}
	var resp struct {
		Token    string          `json:"token"`
		APIToken json.RawMessage `json:"api_token"`
	}
	if err := decode(raw, &resp); err != nil {
		return err
	}
	var tk token
	if len(resp.APIToken) == 0 || string(resp.APIToken) == "null" || json.Unmarshal(resp.APIToken, &tk) != nil {
		return ipc.Errorf(ipc.CodeGateway, "gateway returned an incomplete API token payload")
	}
	if strings.TrimSpace(tk.PublicID) == "" {
		return ipc.Errorf(ipc.CodeGateway, "gateway returned API token without a public id")
	}
	switch format {
	case "json":
		// The secret and the token as the server described it.
		return kit.PrintJSON(x.Out, resp)
	case "token":
		fmt.Fprintln(x.Out, resp.Token)
	default:
		fmt.Fprintf(x.Out, "Created token %q (id %s)\n", tk.Name, tk.PublicID)
		fmt.Fprintf(x.Out, "Token: %s\n", resp.Token)
	}
	return nil
}

func runTokenDelete(ctx context.Context, x *kit.Ctx) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	id := x.Args[0]
	if _, err := call(ctx, x, t, http.MethodDelete, "/api-tokens/"+url.PathEscape(id), nil); err != nil {
		return err
	}
	fmt.Fprintf(x.Out, "Deleted token %s\n", id)
	return nil
}
