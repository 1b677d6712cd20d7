package convox

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/rack"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// registerAppsManage adds the commands that change an app or read one
// process or build in detail: apps create, lock, unlock, params, params set,
// ps info, builds export and builds import.
func registerAppsManage(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "apps create", Usage: "apps create <name> [--generation N] [--lock]", MinArgs: 1, MaxArgs: 1, ArgHint: "an app name",
		Short: "Create an app and wait until it runs (step-up MFA)",
		Bind:  bindRun(runAppsCreate),
	})
	r.Add(&kit.Command{
		Name: "apps lock", Usage: "apps lock [app]", MaxArgs: 1,
		Short: "Enable termination protection (step-up MFA)",
		Bind:  bindRun(func(ctx context.Context, x *kit.Ctx, o *appOption) error { return runAppsLock(ctx, x, o, true) }),
	})
	r.Add(&kit.Command{
		Name: "apps unlock", Usage: "apps unlock [app]", MaxArgs: 1,
		Short: "Disable termination protection (step-up MFA)",
		Bind:  bindRun(func(ctx context.Context, x *kit.Ctx, o *appOption) error { return runAppsLock(ctx, x, o, false) }),
	})
	r.Add(&kit.Command{
		Name: "apps params", Usage: "apps params [app] [--output json]", MaxArgs: 1,
		Short: "Display app parameters", Bind: bindRun(runAppsParams),
	})
	r.Add(&kit.Command{
		Name: "apps params set", Usage: "apps params set <Key=Value>... [-a app]", MinArgs: 1, MaxArgs: -1, ArgHint: "a Key=Value pair",
		Short: "Set app parameters and wait for the app (step-up MFA)",
		Bind:  bindRun(runAppsParamsSet),
	})
	r.Add(&kit.Command{
		Name: "ps info", Usage: "ps info <pid> [-a app] [--output json]", MinArgs: 1, MaxArgs: 1, ArgHint: "a process id",
		Short: "Get information about a process", Bind: bindRun(runPsInfo),
	})
	registerBuildsTransfer(r)
}

// appsCreateOptions are apps create's flags.
type appsCreateOptions struct {
	generation string
	lock       bool
}

func (o *appsCreateOptions) bind(fs *pflag.FlagSet) {
	fs.StringVarP(&o.generation, "generation", "g", "", "App generation (default: the rack's)")
	fs.BoolVar(&o.lock, "lock", false, "Enable termination protection once the app runs")
}

// runAppsCreate creates the app and waits until it runs, as upstream does
// before its OK; --lock then protects it within the same step.
func runAppsCreate(ctx context.Context, x *kit.Ctx, o *appsCreateOptions) error {
	name := x.Args[0]
	c, _, err := writeClient(ctx, x)
	if err != nil {
		return err
	}
	return runStep(x, "Creating "+name, func() (string, error) {
		if _, err := c.AppCreate(ctx, name, o.generation); err != nil {
			return "", err
		}
		if err := waitRunning(ctx, c, name); err != nil {
			return "", err
		}
		if o.lock {
			lock := true
			return "", c.AppUpdate(ctx, name, rack.AppUpdate{Lock: &lock})
		}
		return "", nil
	})
}

// runAppsLock turns the rack's termination protection on or off: a locked
// app refuses to be deleted.
func runAppsLock(ctx context.Context, x *kit.Ctx, o *appOption, lock bool) error {
	name, err := argOrApp(x, *o)
	if err != nil {
		return err
	}
	c, _, err := writeClient(ctx, x)
	if err != nil {
		return err
	}
	verb := "Unlocking "
	if lock {
		verb = "Locking "
	}
	return runStep(x, verb+name, func() (string, error) {
		return "", c.AppUpdate(ctx, name, rack.AppUpdate{Lock: &lock})
	})
}

// runAppsParams prints the app's parameters as key/value lines, sorted
// by key; an app without parameters prints nothing.
func runAppsParams(ctx context.Context, x *kit.Ctx, o *appOutputOptions) error {
	asJSON, c, err := rackReader(x, o.outputOption)
	if err != nil {
		return err
	}
	name, err := argOrApp(x, o.appOption)
	if err != nil {
		return err
	}
	a, err := c.AppGet(ctx, name)
	if err != nil {
		return err
	}
	params := a.Parameters
	if params == nil {
		params = map[string]string{}
	}
	if asJSON {
		return kit.PrintJSON(x.Out, params)
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kv := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		kv = append(kv, k, params[k])
	}
	return printInfo(x.Out, kv...)
}

// runAppsParamsSet changes parameters as upstream does: the step line
// ends as soon as the rack took the change, the wait for the app follows
// on a line of its own, and the rack must then report every value given
// (otherwise it rolled the change back).
func runAppsParamsSet(ctx context.Context, x *kit.Ctx, o *appOption) error {
	params := map[string]string{}
	for _, arg := range x.Args {
		k, v, ok := strings.Cut(arg, "=")
		if !ok || k == "" {
			return kit.UsageErr(x.Cmd, "Key=Value expected: %s", arg)
		}
		params[k] = v
	}
	c, app, err := appWriter(ctx, x, *o)
	if err != nil {
		return err
	}
	w := stepOut(x)
	fmt.Fprint(w, "Updating parameters... ")
	if err := c.AppUpdate(ctx, app, rack.AppUpdate{Parameters: params}); err != nil {
		endLine(x, w)
		return err
	}
	fmt.Fprintln(w)
	if err := waitRunning(ctx, c, app); err != nil {
		return err
	}
	a, err := c.AppGet(ctx, app)
	if err != nil {
		return err
	}
	for k, v := range params {
		if a.Parameters[k] != v {
			return ipc.Errorf(ipc.CodeGateway, "rollback")
		}
	}
	fmt.Fprintln(w, "OK")
	return nil
}

func runPsInfo(ctx context.Context, x *kit.Ctx, o *appOutputOptions) error {
	asJSON, c, app, err := appReader(x, *o)
	if err != nil {
		return err
	}
	p, err := c.ProcessGet(ctx, app, x.Args[0])
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintJSON(x.Out, p)
	}
	return printInfo(x.Out, "Id", p.Id, "App", p.App, "Command", p.Command, "Instance", p.Instance,
		"Release", p.Release, "Service", p.Name, "Started", ago(p.Started), "Status", p.Status)
}

// argOrApp is the app a command's optional [app] argument names, else the
// one resolveApp finds.
func argOrApp(x *kit.Ctx, o appOption) (string, error) {
	if len(x.Args) == 1 {
		return x.Args[0], nil
	}
	return resolveApp(x, o)
}
