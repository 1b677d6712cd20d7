package convox

import (
	"context"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
)

// registerSystem adds the rack-level commands under "rack": logs, params,
// params set, ps, releases, scale and update. "rack" itself (the local
// view) and "rack info" live elsewhere; the grammar finds these by their
// two or three words.
func registerSystem(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "rack logs", Usage: "rack logs [--no-follow] [--since 10m] [--filter text]", MaxArgs: 0,
		Short: "Show the rack's own logs, following them until Ctrl-C",
		Long: `Show the rack's own logs, following new lines until Ctrl-C, as the
upstream CLI does. With --no-follow (or --follow=false) it prints what the
rack has and ends. --since limits the lines to the last duration (10m, 2h);
without it the rack sends all it keeps.`,
		Bind: bindRun(runRackLogs),
	})
	r.Add(&kit.Command{
		Name: "rack params", Usage: "rack params [--output json]", MaxArgs: 0,
		Short: "Display rack parameters", Bind: bindRun(runRackParams),
	})
	r.Add(&kit.Command{
		Name: "rack params set", Usage: "rack params set <Key=Value>... [--wait]", MinArgs: 1, MaxArgs: -1,
		ArgHint: "Key=Value pairs",
		Short:   "Set rack parameters (step-up MFA)", Bind: bindRun(runRackParamsSet),
	})
	r.Add(&kit.Command{
		Name: "rack ps", Usage: "rack ps [--all] [--output json]", MaxArgs: 0,
		Short: "List rack processes (with --all, every app's too)", Bind: bindRun(runRackPs),
	})
	r.Add(&kit.Command{
		Name: "rack releases", Usage: "rack releases [--output json]", MaxArgs: 0,
		Short: "List the rack's versions", Bind: bindRun(runRackReleases),
	})
	r.Add(&kit.Command{
		Name: "rack scale", Usage: "rack scale [--count N] [--type T] [--output json]", MaxArgs: 0,
		Short: "Scale the rack, or show its size without flags (scaling: step-up MFA)",
		Bind:  bindRun(runRackScale),
	})
	r.Add(&kit.Command{
		Name: "rack update", Usage: "rack update --version <version> [--wait]", MaxArgs: 1,
		Short: "Update the rack to a version (step-up MFA)",
		Long: `Update the rack to a version (step-up MFA). The version is --version, as
in the upstream CLI, or an argument, as in the Convox CLI
(rack update 3.21.4).`,
		Bind: bindRun(runRackUpdate),
	})
}

// rackLogsOptions are the flags of rack logs. Following is the default,
// as both upstream CLIs behave; -f/--follow stays accepted for the
// scripts that pass it.
type rackLogsOptions struct {
	follow, noFollow bool
	since            string
	filter           string
}

func (o *rackLogsOptions) bind(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.follow, "follow", "f", true, "Keep streaming new lines until Ctrl-C")
	fs.BoolVar(&o.noFollow, "no-follow", false, "Print the lines the rack has and end")
	fs.StringVar(&o.since, "since", "", "Only lines newer than this duration (10m, 2h)")
	fs.StringVar(&o.filter, "filter", "", "Only lines containing this text")
}

func runRackLogs(ctx context.Context, x *kit.Ctx, o *rackLogsOptions) error {
	h := http.Header{}
	if o.since != "" {
		d, err := time.ParseDuration(o.since)
		if err != nil || d <= 0 {
			return kit.UsageErr(x.Cmd, "invalid --since %q: use a duration such as 10m or 2h", o.since)
		}
		h.Set("Since", d.String())
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	// Follow is always sent: a rack that is not told follows.
	h.Set("Follow", boolString(o.follow && !o.noFollow))
	h.Set("Prefix", "true") // "<time> <source> <text>", as upstream asks
	if o.filter != "" {
		h.Set("Filter", o.filter)
	}
	return followLogs(ctx, x, t, "/system/logs", h)
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// rackWaitOption is --wait on the rack updates: wait, in the same step
// line, until the rack reports "running" again.
type rackWaitOption struct{ wait bool }

func (o *rackWaitOption) bind(fs *pflag.FlagSet) {
	fs.BoolVar(&o.wait, "wait", false, "Wait until the rack is running again")
}

// rackUpdateOptions are the flags of rack update.
type rackUpdateOptions struct {
	rackWaitOption
	version string
}

func (o *rackUpdateOptions) bind(fs *pflag.FlagSet) {
	// Upstream's rack update takes --version <v>, where every other
	// command has the global --version switch (show the versions). The
	// CLI leaves it to this command (grammar.VersionArgs), and here the
	// global flag, already on fs, is made this string; fs is this
	// invocation's own, so no other command sees the change.
	if f := fs.Lookup("version"); f != nil {
		f.Value, f.DefValue, f.NoOptDefVal = stringValue{&o.version}, "", ""
		f.Usage = "Version to update to"
	} else {
		fs.StringVar(&o.version, "version", "", "Version to update to")
	}
	o.rackWaitOption.bind(fs)
}

// stringValue is a pflag.Value over a string, for a flag whose Value is
// replaced after it was defined.
type stringValue struct{ p *string }

func (v stringValue) Set(s string) error { *v.p = s; return nil }
func (v stringValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}
func (v stringValue) Type() string { return "string" }

// rackPsOptions are the flags of rack ps.
type rackPsOptions struct {
	outputOption
	all bool
}

func (o *rackPsOptions) bind(fs *pflag.FlagSet) {
	fs.BoolVar(&o.all, "all", false, "Also list every app's processes")
	o.outputOption.bind(fs)
}

// rackScaleOptions are the flags of rack scale; only those given change.
type rackScaleOptions struct {
	outputOption
	count optionalInt
	typ   optionalString
}

func (o *rackScaleOptions) bind(fs *pflag.FlagSet) {
	fs.Var(&o.count, "count", "Number of instances")
	fs.Var(&o.typ, "type", "Instance type")
	o.outputOption.bind(fs)
}
