// Package admin holds the commands of the gateway's administration API:
// your own sessions (sessions, sessions revoke), users and their sessions,
// the audit log, roles and settings (docs/gateway-protocol.md, "Sessions
// and administration").
//
// Every request goes through native.Call, so each gets the credential and
// the MFA level the agent's table (agent/stepup) gives its route, and the
// server's refusals reach the user in its own words. The server checks
// permissions before MFA on these routes, so a refusal never costs a code.
// Where a typo would spend a code on an "always" route (a user that does
// not exist, a session id that is not a number), the command checks first
// with a read that needs no MFA.
package admin

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/commands/native"
)

// Register adds this package's commands to r.
func Register(r *kit.Registry) {
	registerSessions(r)
	registerUsers(r)
	registerAudit(r)
	registerRoles(r)
}

// outputOnly is the options of a command whose only flag is --output.
type outputOnly struct {
	output kit.Output
	runner func(ctx context.Context, x *kit.Ctx, asJSON bool) error
}

// bindOutput is a Bind for such a command: --output json or the default.
func bindOutput(run func(ctx context.Context, x *kit.Ctx, asJSON bool) error) func(fs *pflag.FlagSet) kit.Runner {
	return func(fs *pflag.FlagSet) kit.Runner {
		o := &outputOnly{runner: run}
		kit.BindOutput(fs, &o.output, "o", "", "Output format (json)")
		return func(ctx context.Context, x *kit.Ctx) error {
			asJSON, err := o.output.JSON(x.Cmd)
			if err != nil {
				return err
			}
			return o.runner(ctx, x, asJSON)
		}
	}
}

// me is who the command runs as: the e-mail the rack's login stored and
// the id of this session (0 when unknown), or the gateway's word for it.
type me struct {
	email     string
	sessionID int64
}

// whoami names the caller. The login keeps the e-mail and the session id
// in the config; without them (a rack from the environment, an API token)
// the gateway's info says who the credential belongs to.
func whoami(ctx context.Context, x *kit.Ctx, t *kit.Target) (me, error) {
	if t.Gateway != nil && t.Gateway.Email != "" && x.APIToken() == "" {
		return me{email: t.Gateway.Email, sessionID: t.Gateway.SessionID}, nil
	}
	var info struct {
		User struct {
			Email string `json:"email"`
		} `json:"user"`
	}
	if _, err := native.GetJSON(ctx, x, t, "/info", &info); err != nil {
		return me{}, err
	}
	return me{email: info.User.Email}, nil
}

// userPath is /users/{email}[/rest...], the e-mail escaped as a segment.
func userPath(email string, rest ...string) string {
	p := "/users/" + url.PathEscape(email)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// printInfo writes key/value lines with the values in one column.
func printInfo(w io.Writer, kv ...string) {
	width := 0
	for i := 0; i < len(kv); i += 2 {
		width = max(width, len(kv[i]))
	}
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(w, "%-*s  %s\n", width, kv[i], kv[i+1])
	}
}

// ago renders a past moment the way the rack commands do ("now",
// "5 minutes ago", "2 days ago"); a zero time is "-".
func ago(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < time.Second {
		return "now"
	}
	for _, u := range []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		if n := int(d / u.size); n >= 1 {
			if n == 1 {
				return "1 " + u.name + " ago"
			}
			return fmt.Sprintf("%d %ss ago", n, u.name)
		}
	}
	return "now"
}

// stamp is a server time as RFC 3339 in UTC, "-" when absent.
func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// parseTime reads an RFC 3339 string the server sent; "" or junk is zero.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// orDash is s, or "-" when empty.
func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
