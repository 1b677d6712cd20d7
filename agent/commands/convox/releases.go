package convox

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/ipc"
)

func registerReleases(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "releases", Usage: "releases [-a app] [-l N] [--output json]", MaxArgs: 0,
		Short: "List releases for an app",
		Bind:  bindRun(runReleases),
	})
	r.Add(&kit.Command{
		Name: "releases info", Usage: "releases info <release> [-a app] [--output json]", MinArgs: 1, MaxArgs: 1, ArgHint: "a release id",
		Short: "Get information about a release", Bind: bindRun(runReleasesInfo),
	})
	r.Add(&kit.Command{
		Name: "releases promote", Usage: "releases promote [release] [-a app] [--wait] [--force]", MaxArgs: 1,
		Short: "Promote a release (default: the latest) and wait for the app", Bind: bindRun(runReleasesPromote),
	})
	r.Add(&kit.Command{
		Name: "releases rollback", Usage: "releases rollback <release> [-a app] [--wait]", MinArgs: 1, MaxArgs: 1, ArgHint: "a release id",
		Short: "Copy an old release forward and promote it", Bind: bindRun(runReleasesRollback),
	})
	r.Add(&kit.Command{
		Name: "builds", Usage: "builds [-a app] [-l N] [--output json]", MaxArgs: 0,
		Short: "List builds for an app",
		Bind:  bindRun(runBuilds),
	})
	r.Add(&kit.Command{
		Name: "builds info", Usage: "builds info <build> [-a app] [--output json]", MinArgs: 1, MaxArgs: 1, ArgHint: "a build id",
		Short: "Get information about a build", Bind: bindRun(runBuildsInfo),
	})
}

// listOptions are the flags of releases and builds: the app, --output
// and how many to list.
type listOptions struct {
	appOutputOptions
	limit int
}

func (o *listOptions) bind(fs *pflag.FlagSet) {
	o.appOutputOptions.bind(fs)
	fs.IntVarP(&o.limit, "limit", "l", 0, "Number of items to list (default: the rack's, 10)")
}

// promoteWaitOption is --wait on the commands that promote. They always wait
// for the app to run the release, as upstream's do, so the flag only
// keeps upstream's command lines valid.
type promoteWaitOption struct{ wait bool }

func (o *promoteWaitOption) bind(fs *pflag.FlagSet) {
	fs.BoolVar(&o.wait, "wait", false, "Wait for the app to run the release (always done; accepted as upstream)")
}

// promoteOptions are releases promote's flags.
type promoteOptions struct {
	appOption
	promoteWaitOption
	force bool
}

func (o *promoteOptions) bind(fs *pflag.FlagSet) {
	o.appOption.bind(fs)
	o.promoteWaitOption.bind(fs)
	fs.BoolVar(&o.force, "force", false, "Promote without waiting for the app to be running first")
}

// rollbackOptions are releases rollback's flags.
type rollbackOptions struct {
	appOption
	promoteWaitOption
}

func (o *rollbackOptions) bind(fs *pflag.FlagSet) {
	o.appOption.bind(fs)
	o.promoteWaitOption.bind(fs)
}

func runReleases(ctx context.Context, x *kit.Ctx, o *listOptions) error {
	asJSON, c, app, err := appReader(x, o.appOutputOptions)
	if err != nil {
		return err
	}
	// The app tells which release is active; fetching it first also
	// turns an unknown app into the rack's "no such app" error.
	a, err := c.AppGet(ctx, app)
	if err != nil {
		return err
	}
	rs, err := c.ReleaseList(ctx, app, o.limit)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintJSON(x.Out, rs)
	}
	rows := make([][]string, 0, len(rs))
	for _, r := range rs {
		status := ""
		if r.Id == a.Release {
			status = "active"
		}
		rows = append(rows, []string{r.Id, status, r.Build, ago(r.Created), r.Description})
	}
	return kit.PrintTable(x.Out, []string{"ID", "STATUS", "BUILD", "CREATED", "DESCRIPTION"}, rows)
}

func runReleasesInfo(ctx context.Context, x *kit.Ctx, o *appOutputOptions) error {
	asJSON, c, app, err := appReader(x, *o)
	if err != nil {
		return err
	}
	r, err := c.ReleaseGet(ctx, app, x.Args[0])
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintJSON(x.Out, r)
	}
	return printInfo(x.Out, "Id", r.Id, "Build", r.Build, "Created", r.Created.Format(time.RFC3339),
		"Description", r.Description, "Env", r.Env)
}

func runReleasesPromote(ctx context.Context, x *kit.Ctx, o *promoteOptions) error {
	c, app, err := appWriter(ctx, x, o.appOption)
	if err != nil {
		return err
	}
	id := ""
	if len(x.Args) == 1 {
		id = x.Args[0]
	} else {
		rs, err := c.ReleaseList(ctx, app, 1)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return ipc.Errorf(ipc.CodeNotFound, "no releases to promote")
		}
		id = rs[0].Id
	}
	return promoteForce(ctx, x, c, app, id, o.force)
}

func runReleasesRollback(ctx context.Context, x *kit.Ctx, o *rollbackOptions) error {
	old := x.Args[0]
	c, app, err := appWriter(ctx, x, o.appOption)
	if err != nil {
		return err
	}
	var id string
	err = runStep(x, "Rolling back to "+old, func() (string, error) {
		ro, err := c.ReleaseGet(ctx, app, old)
		if err != nil {
			return "", err
		}
		// The env comes masked; the gateway reads a mask as "keep the
		// current value", so secrets keep their present values.
		rn, err := c.ReleaseCreate(ctx, app, map[string]string{"build": ro.Build, "env": ro.Env, "description": ro.Description})
		if err != nil {
			return "", err
		}
		id = rn.Id
		return rn.Id, nil
	})
	if err != nil {
		return err
	}
	// As upstream, a rollback promotes its copy at once, without first
	// waiting for the app to be running.
	return promoteNow(ctx, x, c, app, id, false)
}

func runBuilds(ctx context.Context, x *kit.Ctx, o *listOptions) error {
	asJSON, c, err := rackReader(x, o.outputOption)
	if err != nil {
		return err
	}
	app, err := resolveApp(x, o.appOption)
	if err != nil {
		return err
	}
	bs, err := c.BuildList(ctx, app, o.limit)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintJSON(x.Out, bs)
	}
	rows := make([][]string, 0, len(bs))
	for _, b := range bs {
		rows = append(rows, []string{b.Id, b.Status, b.Release, ago(b.Started), elapsed(b.Started, b.Ended), b.Description})
	}
	return kit.PrintTable(x.Out, []string{"ID", "STATUS", "RELEASE", "STARTED", "ELAPSED", "DESCRIPTION"}, rows)
}

func runBuildsInfo(ctx context.Context, x *kit.Ctx, o *appOutputOptions) error {
	asJSON, c, app, err := appReader(x, *o)
	if err != nil {
		return err
	}
	b, err := c.BuildGet(ctx, app, x.Args[0])
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintJSON(x.Out, b)
	}
	return printInfo(x.Out, "Id", b.Id, "Status", b.Status, "Release", b.Release, "Description", b.Description,
		"Started", ago(b.Started), "Elapsed", elapsed(b.Started, b.Ended))
}

// releaseLine prints the new release's line where the step lines go:
// stdout, as upstream, unless --id keeps stdout for the bare id.
func releaseLine(x *kit.Ctx, id string) {
	fmt.Fprintf(stepOut(x), "Release: %s\n", id)
}
