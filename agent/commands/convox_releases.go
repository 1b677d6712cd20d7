package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/ipc"
)

func init() {
	register(&Command{
		Name: "releases", Usage: "releases [-a app] [--limit N] [--output json]", MaxArgs: 0,
		Short: "List releases for an app",
		Flags: cvxFlags(cvxAppFlag, cvxOutputFlag, cvxLimitFlag), Run: cvxRunReleases,
	})
	register(&Command{
		Name: "releases info", Usage: "releases info <release> [-a app] [--output json]", MinArgs: 1, MaxArgs: 1, ArgHint: "a release id",
		Short: "Get information about a release", Flags: cvxFlags(cvxAppFlag, cvxOutputFlag), Run: cvxRunReleasesInfo,
	})
	register(&Command{
		Name: "releases promote", Usage: "releases promote [release] [-a app]", MaxArgs: 1,
		Short: "Promote a release (default: the latest) and wait for the app", Flags: cvxAppFlag, Run: cvxRunReleasesPromote,
	})
	register(&Command{
		Name: "releases rollback", Usage: "releases rollback <release> [-a app]", MinArgs: 1, MaxArgs: 1, ArgHint: "a release id",
		Short: "Copy an old release forward and promote it", Flags: cvxAppFlag, Run: cvxRunReleasesRollback,
	})
	register(&Command{
		Name: "builds", Usage: "builds [-a app] [--limit N] [--output json]", MaxArgs: 0,
		Short: "List builds for an app",
		Flags: cvxFlags(cvxAppFlag, cvxOutputFlag, cvxLimitFlag), Run: cvxRunBuilds,
	})
	register(&Command{
		Name: "builds info", Usage: "builds info <build> [-a app] [--output json]", MinArgs: 1, MaxArgs: 1, ArgHint: "a build id",
		Short: "Get information about a build", Flags: cvxFlags(cvxAppFlag, cvxOutputFlag), Run: cvxRunBuildsInfo,
	})
}

func cvxLimitFlag(fs *pflag.FlagSet) {
	fs.Int("limit", 0, "Number of items to list (default: the rack's, 10)")
}

func cvxRunReleases(ctx context.Context, x *Ctx) error {
	asJSON, c, app, err := cvxAppReader(x)
	if err != nil {
		return err
	}
	// The app tells which release is active; fetching it first also
	// turns an unknown app into the rack's "no such app" error.
	a, err := c.AppGet(ctx, app)
	if err != nil {
		return err
	}
	limit, _ := x.Flags.GetInt("limit")
	rs, err := c.ReleaseList(ctx, app, limit)
	if err != nil {
		return err
	}
	if asJSON {
		return cvxPrintJSON(x.Out, rs)
	}
	rows := make([][]string, 0, len(rs))
	for _, r := range rs {
		status := ""
		if r.Id == a.Release {
			status = "active"
		}
		rows = append(rows, []string{r.Id, status, r.Build, cvxAgo(r.Created), r.Description})
	}
	return cvxTable(x.Out, []string{"ID", "STATUS", "BUILD", "CREATED", "DESCRIPTION"}, rows)
}

func cvxRunReleasesInfo(ctx context.Context, x *Ctx) error {
	asJSON, c, app, err := cvxAppReader(x)
	if err != nil {
		return err
	}
	r, err := c.ReleaseGet(ctx, app, x.Args[0])
	if err != nil {
		return err
	}
	if asJSON {
		return cvxPrintJSON(x.Out, r)
	}
	return cvxInfo(x.Out, "Id", r.Id, "Build", r.Build, "Created", r.Created.Format(time.RFC3339),
		"Description", r.Description, "Env", r.Env)
}

func cvxRunReleasesPromote(ctx context.Context, x *Ctx) error {
	c, app, err := cvxAppWriter(ctx, x)
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
	return cvxPromote(ctx, x, c, app, id)
}

func cvxRunReleasesRollback(ctx context.Context, x *Ctx) error {
	old := x.Args[0]
	c, app, err := cvxAppWriter(ctx, x)
	if err != nil {
		return err
	}
	var id string
	err = cvxStep(x, "Rolling back to "+old, func() (string, error) {
		ro, err := c.ReleaseGet(ctx, app, old)
		if err != nil {
			return "", err
		}
		// The env comes masked; the gateway reads a mask as "keep the
		// current value" (§6.4), so secrets keep their present values.
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
	return cvxPromote(ctx, x, c, app, id)
}

func cvxRunBuilds(ctx context.Context, x *Ctx) error {
	asJSON, c, err := cvxRackReader(x)
	if err != nil {
		return err
	}
	limit, _ := x.Flags.GetInt("limit")
	app, err := cvxResolveApp(x)
	if err != nil {
		return err
	}
	bs, err := c.BuildList(ctx, app, limit)
	if err != nil {
		return err
	}
	if asJSON {
		return cvxPrintJSON(x.Out, bs)
	}
	rows := make([][]string, 0, len(bs))
	for _, b := range bs {
		rows = append(rows, []string{b.Id, b.Status, b.Release, cvxAgo(b.Started), cvxElapsed(b.Started, b.Ended), b.Description})
	}
	return cvxTable(x.Out, []string{"ID", "STATUS", "RELEASE", "STARTED", "ELAPSED", "DESCRIPTION"}, rows)
}

func cvxRunBuildsInfo(ctx context.Context, x *Ctx) error {
	asJSON, c, app, err := cvxAppReader(x)
	if err != nil {
		return err
	}
	b, err := c.BuildGet(ctx, app, x.Args[0])
	if err != nil {
		return err
	}
	if asJSON {
		return cvxPrintJSON(x.Out, b)
	}
	return cvxInfo(x.Out, "Id", b.Id, "Status", b.Status, "Release", b.Release, "Description", b.Description,
		"Started", cvxAgo(b.Started), "Elapsed", cvxElapsed(b.Started, b.Ended))
}

// cvxReleaseLine prints the new release id on stdout: it is the data a
// script wants from env set/unset.
func cvxReleaseLine(x *Ctx, id string) {
	fmt.Fprintf(x.Out, "Release: %s\n", id)
}
