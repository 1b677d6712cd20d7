package convox

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/rack"
	"github.com/rack-gateway/rack-gateway/ipc"
)

func registerEnvEdit(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "env edit", Usage: "env edit [--promote] [-a app]", MaxArgs: 0,
		Short: "Edit an app's env in $VISUAL/$EDITOR and save it as a new release",
		Long: "Edit an app's env in $VISUAL, $EDITOR or vi, and save the result as a new release.\n\n" +
			"Secrets show masked; a mask left as it is keeps the secret's value. Delete a line to unset\n" +
			"a variable. Blank lines and lines starting with # are ignored.",
		Bind: bindRun(runEnvEdit),
	})
}

// editHeader opens the file the user edits. Parsing skips # lines, so it
// costs nothing to explain the rules where they apply.
const editHeader = "# Edit the env of app %s on rack %s, then save and quit.\n" +
	"# One KEY=VALUE per line; blank lines and lines starting with # are ignored.\n" +
	"# A masked secret left as it is keeps its value. Delete a line to unset it.\n"

func runEnvEdit(ctx context.Context, x *kit.Ctx, o *envEditOptions) error {
	app, err := resolveApp(x, o.appOption)
	if err != nil {
		return err
	}
	// Step up before the editor opens, as env set does before it reads:
	// a --mfa-code would go stale during a long edit, and a failed prompt
	// after the edit would throw the user's work away.
	c, t, err := writeClient(ctx, x)
	if err != nil {
		return err
	}
	base, old, err := latestEnv(ctx, c, app)
	if err != nil {
		return err
	}
	text := fmt.Sprintf(editHeader, app, t.Name)
	if s := rack.FormatEnv(old); s != "" {
		text += s + "\n"
	}
	// The editor owns the user's terminal until it exits. A Ctrl-C meant
	// for the command must not make the agent stop waiting: the CLI would
	// then exit with the editor still running and the temp file left
	// behind. So wait for the editor regardless and honour the interrupt
	// after it returns.
	res, err := x.Term.Do(context.WithoutCancel(ctx), ipc.Action{Kind: ipc.ActionEditFile, Content: []byte(text)})
	if ctx.Err() != nil {
		return ipc.Interrupted("interrupted; nothing was changed")
	}
	if err != nil {
		return ipc.Wrap(ipc.CodeInterrupted, err, "the terminal went away during the edit: %v; nothing was changed", err)
	}
	if res.Error != "" {
		return ipc.Errorf(ipc.CodeUsage, "%s", res.Error).WithHint("Nothing was changed.")
	}
	edited, err := parseEdited(res.Content)
	if err != nil {
		return err
	}
	if len(edited) == 0 && len(old) > 0 {
		// An empty file is more often a crashed or misused editor than a
		// wish to delete every variable; that deserves an explicit command.
		return ipc.Errorf(ipc.CodeUsage, "the edited env is empty; nothing was changed").
			WithHint("To remove variables, delete only their lines, or use: rack-gateway env unset <KEY>...")
	}
	sets, unsets := envDiff(old, edited)
	if len(sets) == 0 && len(unsets) == 0 {
		x.Progress("No changes")
		return nil
	}
	if err := checkUnchanged(ctx, c, app, base, old); err != nil {
		return err
	}
	var steps []string
	if len(sets) > 0 {
		steps = append(steps, "Setting "+strings.Join(sets, ", "))
	}
	if len(unsets) > 0 {
		steps = append(steps, "Unsetting "+strings.Join(unsets, ", "))
	}
	// One release carries every change; the first line brackets the
	// request and the others are reported once it has succeeded.
	var id string
	err = runStep(x, steps[0], func() (string, error) {
		r, err := c.ReleaseCreate(ctx, app, map[string]string{"env": rack.FormatEnv(edited)})
		if err != nil {
			return "", err
		}
		id = r.Id
		return "", nil
	})
	if err != nil {
		return err
	}
	for _, s := range steps[1:] {
		fmt.Fprintf(stepOut(x), "%s... OK\n", s)
	}
	releaseLine(x, id)
	if o.promote {
		return promote(ctx, x, c, app, id)
	}
	return nil
}

// latestEnv reads the latest release's env (secrets masked) the way env
// set does, with the release id it came from ("" for an app without one).
func latestEnv(ctx context.Context, c *rack.Client, app string) (string, map[string]string, error) {
	rs, err := c.ReleaseList(ctx, app, 1)
	if err != nil {
		return "", nil, err
	}
	if len(rs) == 0 {
		return "", map[string]string{}, nil
	}
	r, err := c.ReleaseGet(ctx, app, rs[0].Id)
	if err != nil {
		return "", nil, err
	}
	return rs[0].Id, rack.ParseEnv(r.Env), nil
}

// checkUnchanged refuses to save when someone changed the env while the
// user was editing: posting the complete env would silently undo their
// change. A new release with the same env (a deploy) is no conflict.
func checkUnchanged(ctx context.Context, c *rack.Client, app, base string, old map[string]string) error {
	id, now, err := latestEnv(ctx, c, app)
	if err != nil {
		return err
	}
	if id == base || maps.Equal(now, old) {
		return nil
	}
	return ipc.Errorf(ipc.CodeGateway, "the env of %s changed in release %s while you were editing; nothing was changed", app, id).
		WithHint("Run 'rack-gateway env edit' again to edit the current env.")
}

// parseEdited reads the edited file strictly: a line that is not KEY=VALUE,
// or a key given twice, is an error naming the line, so nothing is sent
// on a guess. The line itself is not quoted: it may hold a secret, and
// errors reach the audit log.
func parseEdited(b []byte) (map[string]string, error) {
	env := map[string]string{}
	lineOf := map[string]int{}
	bad := func(format string, args ...any) error {
		return ipc.Errorf(ipc.CodeUsage, format, args...).
			WithHint("Nothing was changed. Each line must be KEY=VALUE; blank lines and lines starting with # are ignored.")
	}
	for i, line := range strings.Split(string(b), "\n") {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		if trimmed := strings.TrimSpace(line); trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, bad("line %d of the edited env is not KEY=VALUE", n)
		}
		if first, dup := lineOf[k]; dup {
			return nil, bad("line %d of the edited env sets %s again (first on line %d)", n, k, first)
		}
		lineOf[k] = n
		env[k] = v
	}
	return env, nil
}

// envDiff returns the keys whose value is new or changed, and the keys
// that were removed, both sorted. A mask left in place equals the old
// mask, so an untouched secret is no change.
func envDiff(old, edited map[string]string) (sets, unsets []string) {
	for k, v := range edited {
		if ov, ok := old[k]; !ok || ov != v {
			sets = append(sets, k)
		}
	}
	for k := range old {
		if _, ok := edited[k]; !ok {
			unsets = append(unsets, k)
		}
	}
	sort.Strings(sets)
	sort.Strings(unsets)
	return sets, unsets
}
