package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/commands/native"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// sessions, sessions revoke, users sessions and users revoke-sessions:
// GET /users/{email}/sessions (none) and the revocations (always: each
// needs a new MFA proof, one's own sessions included).

func registerSessions(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "sessions", Usage: "sessions [--output json]", MaxArgs: 0,
		Short: "List your gateway sessions, this one marked",
		Long: `List your active gateway sessions (CLI and web), this one marked with * in
the CURRENT column. --output json prints the gateway's list with "current"
added to each session.`,
		Bind: bindOutput(runSessions),
	})
	r.Add(&kit.Command{
		Name: "sessions revoke", Usage: "sessions revoke <session-id> | --others", MinArgs: 0, MaxArgs: 1,
		Short: "Sign out one of your sessions, or all but this one",
		Long: `Sign out one of your sessions by its id (see 'rack-gateway sessions'), or
with --others every session but this one. A revoked session's token fails
from its next request. Each revocation needs a new MFA proof.`,
		Bind: kit.BindNew[revokeOptions](),
	})
	r.Add(&kit.Command{
		Name: "users sessions", Usage: "users sessions <email> [--output json]", MinArgs: 1, MaxArgs: 1,
		ArgHint: "a user's e-mail", Short: "List a user's active sessions",
		Bind: bindOutput(runUserSessions),
	})
	r.Add(&kit.Command{
		Name: "users revoke-sessions", Usage: "users revoke-sessions <email>", MinArgs: 1, MaxArgs: 1,
		ArgHint: "a user's e-mail", Short: "Sign out every session of a user (needs a new MFA proof)",
		Run: runRevokeUserSessions,
	})
}

// sessionInfo is one entry of GET /users/{email}/sessions.
type sessionInfo struct {
	ID         int64          `json:"id"`
	CreatedAt  string         `json:"created_at"`
	LastSeenAt string         `json:"last_seen_at"`
	ExpiresAt  string         `json:"expires_at"`
	Channel    string         `json:"channel"`
	IPAddress  string         `json:"ip_address"`
	UserAgent  string         `json:"user_agent"`
	Metadata   map[string]any `json:"metadata"`
}

// listSessions fetches email's active sessions.
func listSessions(ctx context.Context, x *kit.Ctx, t *kit.Target, email string) ([]byte, []sessionInfo, error) {
	var list []sessionInfo
	raw, err := native.GetJSON(ctx, x, t, userPath(email, "sessions"), &list)
	if err != nil {
		return nil, nil, err
	}
	return raw.Body, list, nil
}

func runSessions(ctx context.Context, x *kit.Ctx, asJSON bool) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	who, err := whoami(ctx, x, t)
	if err != nil {
		return err
	}
	return showSessions(ctx, x, t, who.email, who.sessionID, asJSON)
}

func runUserSessions(ctx context.Context, x *kit.Ctx, asJSON bool) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	who, err := whoami(ctx, x, t)
	if err != nil {
		return err
	}
	current := int64(0)
	if x.Args[0] == who.email {
		current = who.sessionID
	}
	return showSessions(ctx, x, t, x.Args[0], current, asJSON)
}

// showSessions prints email's sessions, marking current (0: none).
func showSessions(ctx context.Context, x *kit.Ctx, t *kit.Target, email string, current int64, asJSON bool) error {
	body, list, err := listSessions(ctx, x, t, email)
	if err != nil {
		return err
	}
	if asJSON {
		return printSessionsJSON(x, body, current)
	}
	if len(list) == 0 {
		fmt.Fprintln(x.Out, "No active sessions")
		return nil
	}
	now := time.Now()
	rows := make([][]string, 0, len(list))
	for _, s := range list {
		mark := ""
		if current != 0 && s.ID == current {
			mark = "*"
		}
		device, _ := s.Metadata["device_name"].(string)
		exp := parseTime(s.ExpiresAt)
		rows = append(rows, []string{mark, strconv.FormatInt(s.ID, 10), orDash(s.Channel), orDash(device), orDash(s.IPAddress),
			ago(parseTime(s.LastSeenAt), now), ago(parseTime(s.CreatedAt), now), stamp(&exp)})
	}
	return kit.PrintTable(x.Out, []string{"CURRENT", "ID", "CHANNEL", "DEVICE", "IP", "LAST SEEN", "CREATED", "EXPIRES"}, rows)
}

// printSessionsJSON prints the server's list, every field kept, with
// "current" added to each entry.
func printSessionsJSON(x *kit.Ctx, body []byte, current int64) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var list []map[string]any
	if err := dec.Decode(&list); err != nil {
		return kit.PrintRaw(x.Out, body)
	}
	for _, s := range list {
		id, _ := s["id"].(json.Number)
		s["current"] = current != 0 && id.String() == strconv.FormatInt(current, 10)
	}
	if list == nil {
		list = []map[string]any{}
	}
	return kit.PrintJSON(x.Out, list)
}

// revokeOptions are sessions revoke's flags.
type revokeOptions struct{ others bool }

func (o *revokeOptions) Bind(fs *pflag.FlagSet) {
	fs.BoolVar(&o.others, "others", false, "Revoke every session but this one")
}

func (o *revokeOptions) Run(ctx context.Context, x *kit.Ctx) error {
	switch {
	case o.others && len(x.Args) > 0:
		return kit.UsageErr(x.Cmd, "give a session id or --others, not both")
	case !o.others && len(x.Args) == 0:
		return kit.UsageErr(x.Cmd, "sessions revoke requires a session id or --others")
	}
	var id int64
	if !o.others {
		// Checked here: the server would say "invalid session id" only
		// after the MFA proof was spent.
		n, err := strconv.ParseInt(strings.TrimSpace(x.Args[0]), 10, 64)
		if err != nil || n <= 0 {
			return kit.UsageErr(x.Cmd, "invalid session id %q: use an id from 'rack-gateway sessions'", x.Args[0])
		}
		id = n
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	who, err := whoami(ctx, x, t)
	if err != nil {
		return err
	}
	if !o.others {
		return revokeSession(ctx, x, t, who, id)
	}
	if who.sessionID == 0 {
		return ipc.Errorf(ipc.CodeUsage, "the id of this session is unknown (the login that made it did not store one), so the others cannot be told from it").
			WithHint("Revoke sessions by id ('rack-gateway sessions' lists them), or log in again: rack-gateway login %s", kit.LoginArgs(t))
	}
	_, list, err := listSessions(ctx, x, t, who.email)
	if err != nil {
		return err
	}
	n := 0
	for _, s := range list {
		if s.ID == who.sessionID {
			continue
		}
		if err := revokeSession(ctx, x, t, who, s.ID); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		fmt.Fprintln(x.Out, "No other sessions")
	}
	return nil
}

// revokeSession revokes one of who's sessions and says so.
func revokeSession(ctx context.Context, x *kit.Ctx, t *kit.Target, who me, id int64) error {
	path := userPath(who.email, "sessions", strconv.FormatInt(id, 10), "revoke")
	raw, err := native.Call(ctx, x, t, http.MethodPost, path, nil)
	if err != nil {
		return err
	}
	var res struct {
		Revoked bool `json:"revoked"`
	}
	if err := native.Decode(raw, &res); err != nil {
		return err
	}
	switch {
	case !res.Revoked:
		fmt.Fprintf(x.Out, "Session %d was already revoked\n", id)
	case id == who.sessionID:
		fmt.Fprintf(x.Out, "Revoked session %d (this session)\n", id)
		x.Progress("This terminal's session for %s no longer works: run 'rack-gateway login %s' to sign in again.", t.Name, kit.LoginArgs(t))
	default:
		fmt.Fprintf(x.Out, "Revoked session %d\n", id)
	}
	return nil
}

func runRevokeUserSessions(ctx context.Context, x *kit.Ctx) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	email := x.Args[0]
	who, err := whoami(ctx, x, t)
	if err != nil {
		return err
	}
	if err := userExists(ctx, x, t, email); err != nil {
		return err
	}
	raw, err := native.Call(ctx, x, t, http.MethodPost, userPath(email, "sessions", "revoke_all"), nil)
	if err != nil {
		return err
	}
	var res struct {
		RevokedCount int64 `json:"revoked_count"`
	}
	if err := native.Decode(raw, &res); err != nil {
		return err
	}
	noun := "sessions"
	if res.RevokedCount == 1 {
		noun = "session"
	}
	fmt.Fprintf(x.Out, "Revoked %d %s of %s\n", res.RevokedCount, noun, email)
	if who.email == email && res.RevokedCount > 0 {
		x.Progress("This terminal's session was among them: run 'rack-gateway login %s' to sign in again.", kit.LoginArgs(t))
	}
	return nil
}
