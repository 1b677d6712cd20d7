package convox

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/rack"
	"github.com/rack-gateway/rack-gateway/agent/term"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// rackClient resolves the rack and returns a Convox client whose requests go
// through x.Call, so each one carries the session and the MFA its route
// needs.
func rackClient(x *kit.Ctx) (*rack.Client, *kit.Target, error) {
	t, err := x.ResolveRack()
	if err != nil {
		return nil, nil, err
	}
	do := func(ctx context.Context, req gateway.Request) (*gateway.Raw, error) {
		raw, err := x.Call(ctx, t, req)
		if err != nil {
			return nil, kit.GatewayErr(t, err)
		}
		return raw, nil
	}
	return rack.New(do), t, nil
}

// writeClient is rackClient for commands that change the rack. Their
// MFA is met request by request (see withMFA): the server is asked before
// the person, and a prompt that comes in the middle of a step line starts
// on a line of its own (term.Lines).
func writeClient(_ context.Context, x *kit.Ctx) (*rack.Client, *kit.Target, error) {
	return rackClient(x)
}

// appName is resolveApp for callers that want a name in any case: when
// nothing names an app it falls back to the directory's base name, which
// the rack then reports as unknown.
func appName(x *kit.Ctx, o appOption) string {
	if a, err := resolveApp(x, o); err == nil {
		return a
	}
	return filepath.Base(x.Inv.Cwd)
}

// resolveApp resolves the app as the Convox CLI does: -a/--app, $CONVOX_APP,
// a .convox/app file in the caller's directory or a parent, then the
// directory's name. It reads the caller's cwd and environment, never the
// agent's. A caller without a usable directory (none sent, or the root)
// must name the app.
func resolveApp(x *kit.Ctx, o appOption) (string, error) {
	if o.app != "" {
		return o.app, nil
	}
	if a := x.Getenv("CONVOX_APP"); a != "" {
		return a, nil
	}
	dir := x.Inv.Cwd
	if dir == "" {
		return "", kit.UsageErr(x.Cmd, "no app given and no working directory to infer it from; use -a <app>")
	}
	for d := dir; d != ""; {
		if b, err := os.ReadFile(filepath.Join(d, ".convox", "app")); err == nil {
			if a := strings.TrimSpace(string(b)); a != "" {
				return a, nil
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if base := filepath.Base(dir); base != "/" && base != "." && base != string(filepath.Separator) {
		return base, nil
	}
	return "", kit.UsageErr(x.Cmd, "no app given and %s names none; use -a <app>", dir)
}

// printInfo prints Convox-style key/value lines; continuation lines of a
// multi-line value are indented under the first.
func printInfo(w io.Writer, kv ...string) error {
	width := 0
	for i := 0; i < len(kv); i += 2 {
		width = max(width, len(kv[i]))
	}
	for i := 0; i+1 < len(kv); i += 2 {
		lines := strings.Split(strings.TrimRight(kv[i+1], "\n"), "\n")
		fmt.Fprintf(w, "%-*s  %s\n", width, kv[i], lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "%-*s  %s\n", width, "", l)
		}
	}
	return nil
}

// runStep runs one action between "<text>... " and "OK" on stderr, the
// progress stream. On failure the line is ended so the error the framework
// prints stands on its own line. When the server closed the MFA window
// behind the agent's back, the step-up prompt lands inside the line; the
// text is then repeated so the result still reads "<text>... OK".
func runStep(x *kit.Ctx, text string, fn func() (string, error)) error {
	w := stepOut(x)
	fmt.Fprintf(w, "%s... ", text)
	// A prompt during fn ends this line and resumes it (term.Lines), so
	// the label is never glued to the prompt nor printed twice here.
	extra, err := fn()
	if err != nil {
		endLine(x, w)
		return err
	}
	if extra != "" {
		fmt.Fprintf(w, "OK, %s\n", extra)
	} else {
		fmt.Fprintln(w, "OK")
	}
	return nil
}

// waitInterval is the pause between app status polls. The upstream
// CLI polls every 5 s; a second keeps short rollouts snappy. A variable
// so unit tests against the in-process sandbox need not wait.
var waitInterval = time.Second

// waitRunning polls the app until it is running, as the upstream wait
// loop does (35 minutes at most). "rollback" means the rack undid the
// change.
func waitRunning(ctx context.Context, c *rack.Client, app string) error {
	deadline := time.Now().Add(35 * time.Minute)
	for {
		a, err := c.AppGet(ctx, app)
		if err != nil {
			return err
		}
		switch a.Status {
		case "running":
			return nil
		case "rollback":
			return ipc.Errorf(ipc.CodeGateway, "rollback")
		}
		if time.Now().After(deadline) {
			return ipc.Errorf(ipc.CodeGateway, "timeout waiting for app %s to be running (status %s)", app, a.Status)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(waitInterval):
		}
	}
}

// promote is the upstream promote flow: wait for a running app, then
// promoteNow.
func promote(ctx context.Context, x *kit.Ctx, c *rack.Client, app, id string) error {
	return promoteForce(ctx, x, c, app, id, false)
}

// promoteForce is promote; with force it neither waits for the app to be
// running first nor lets the rack refuse because it is not (upstream's
// releases promote --force).
func promoteForce(ctx context.Context, x *kit.Ctx, c *rack.Client, app, id string, force bool) error {
	if !force {
		a, err := c.AppGet(ctx, app)
		if err != nil {
			return err
		}
		if a.Status != "running" {
			if err := runStep(x, "Waiting for app to be ready", func() (string, error) {
				return "", waitRunning(ctx, c, app)
			}); err != nil {
				return err
			}
		}
	}
	return promoteNow(ctx, x, c, app, id, force)
}

// promoteNow promotes id, waits for the app to run it and checks the rack
// kept it. As upstream, the step line ends right after its label
// ("Promoting R... ") and the OK comes on a line of its own once the app
// runs the release, so the wait, which can take minutes, never sits on a
// half-written line.
func promoteNow(ctx context.Context, x *kit.Ctx, c *rack.Client, app, id string, force bool) error {
	w := stepOut(x)
	fmt.Fprintf(w, "Promoting %s... \n", id)
	if err := c.ReleasePromote(ctx, app, id, force); err != nil {
		return err
	}
	if err := waitRunning(ctx, c, app); err != nil {
		return err
	}
	a, err := c.AppGet(ctx, app)
	if err != nil {
		return err
	}
	if a.Release != id {
		return ipc.Errorf(ipc.CodeGateway, "rollback")
	}
	fmt.Fprintln(w, "OK")
	return nil
}

// ago renders a past time as the Convox CLI does ("1 hour ago",
// "3 days ago"): the relative-time steps of the go-humanize library it
// uses, a time under a second old being "now". Zero times are blank.
func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return relTime(time.Since(t))
}

// relTime is ago for a duration d in the past (or, negative, the future).
// Each step applies below its bound: a fixed text, or a count of unit
// rounded down.
func relTime(d time.Duration) string {
	label := "ago"
	if d < 0 {
		d, label = -d, "from now"
	}
	const (
		day   = 24 * time.Hour
		week  = 7 * day
		month = 30 * day
		year  = 12 * month
	)
	for _, s := range []struct {
		below time.Duration
		text  string // a fixed text, or a plural noun when unit is set
		unit  time.Duration
	}{
		{time.Second, "now", 0},
		{2 * time.Second, "1 second", 0},
		{time.Minute, "seconds", time.Second},
		{2 * time.Minute, "1 minute", 0},
		{time.Hour, "minutes", time.Minute},
		{2 * time.Hour, "1 hour", 0},
		{day, "hours", time.Hour},
		{2 * day, "1 day", 0},
		{week, "days", day},
		{2 * week, "1 week", 0},
		{month, "weeks", week},
		{2 * month, "1 month", 0},
		{year, "months", month},
		{18 * month, "1 year", 0},
		{2 * year, "2 years", 0},
		{37 * year, "years", year},
	} {
		if d >= s.below {
			continue
		}
		switch {
		case s.text == "now":
			return "now"
		case s.unit == 0:
			return s.text + " " + label
		}
		return fmt.Sprintf("%d %s %s", d/s.unit, s.text, label)
	}
	return "a long while " + label
}

// elapsed is a build's duration, blank while it has not ended.
func elapsed(start, end time.Time) string {
	if start.IsZero() || end.IsZero() {
		return ""
	}
	return end.Sub(start).Round(time.Second).String()
}

// percent renders a 0–1 fraction as Convox does ("12.50%").
func percent(f float64) string { return fmt.Sprintf("%0.2f%%", f*100) }

// rackReader is the common start of a read command: the --output
// choice and a rack client.
func rackReader(x *kit.Ctx, o outputOption) (asJSON bool, c *rack.Client, err error) {
	if asJSON, err = o.json(x.Cmd); err != nil {
		return
	}
	c, _, err = rackClient(x)
	return
}

// appReader is rackReader plus the resolved app, for read commands
// on one app.
func appReader(x *kit.Ctx, o appOutputOptions) (asJSON bool, c *rack.Client, app string, err error) {
	if asJSON, c, err = rackReader(x, o.outputOption); err != nil {
		return
	}
	app, err = resolveApp(x, o.appOption)
	return
}

// endLine ends an open step line before an error is printed, and prints
// nothing when a prompt already ended it.
func endLine(x *kit.Ctx, w io.Writer) {
	if l, ok := x.Term.(*term.Lines); ok {
		l.EndLine(w)
		return
	}
	fmt.Fprintln(w)
}

// stepOut is where the Convox-style step lines ("Setting FOO... OK") go:
// stdout, where the upstream CLI prints them and where people's scripts
// grep for them. Only what we add beyond upstream (bars, hints) goes to
// stderr. A command whose stdout must carry a single value (build --id)
// sends them to stderr through StepsToStderr.
func stepOut(x *kit.Ctx) io.Writer {
	if x.StepsToStderr {
		return x.Err
	}
	return x.Out
}

// appWriter is the common start of a write command on one app: a rack
// client with the step-up window already open (see writeClient), then
// the resolved app.
func appWriter(ctx context.Context, x *kit.Ctx, o appOption) (*rack.Client, string, error) {
	c, _, err := writeClient(ctx, x)
	if err != nil {
		return nil, "", err
	}
	app, err := resolveApp(x, o)
	return c, app, err
}
