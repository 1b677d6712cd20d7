package convox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/rack"
	"github.com/rack-gateway/rack-gateway/ipc"
)

func registerApps(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "apps", Usage: "apps [--output json]", MaxArgs: 0,
		Short: "List apps", Bind: bindRun(runApps),
	})
	r.Add(&kit.Command{
		Name: "apps info", Usage: "apps info [app] [--output json]", MaxArgs: 1,
		Short: "Get information about an app", Bind: bindRun(runAppsInfo),
	})
	r.Add(&kit.Command{
		Name: "apps delete", Usage: "apps delete <app>", MinArgs: 1, MaxArgs: 1, ArgHint: "an app name",
		Short: "Delete an app (needs a fresh MFA proof and the gateway's destructive-action policy)",
		Run:   runAppsDelete,
	})
	r.Add(&kit.Command{
		Name: "ps", Usage: "ps [-a app] [-s service] [--release R] [--all] [--output json]", MaxArgs: 0,
		Short: "List app processes", Bind: bindRun(runPs),
	})
	r.Add(&kit.Command{
		Name: "ps stop", Usage: "ps stop <pid> [-a app]", MinArgs: 1, MaxArgs: 1, ArgHint: "a process id",
		Short: "Stop a process", Bind: bindRun(runPsStop),
	})
	r.Add(&kit.Command{
		Name: "restart", Usage: "restart [-a app]", MaxArgs: 0,
		Short: "Restart every service of an app", Bind: bindRun(runRestart),
	})
	r.Add(&kit.Command{
		Name: "scale", Usage: "scale [<service>] [--count N] [--cpu N] [--memory N] [-a app]", MaxArgs: 1,
		Short: "Scale a service, or list service scale without flags",
		Bind:  bindRun(runScale),
	})
	r.Add(&kit.Command{
		Name: "rack info", Usage: "rack info [--output json]", MaxArgs: 0,
		Short: "Get information about the rack", Bind: bindRun(runRackInfo),
	})
	r.Add(&kit.Command{
		Name: "instances", Usage: "instances [--output json]", MaxArgs: 0,
		Short: "List rack instances", Bind: bindRun(runInstances),
	})
}

func runApps(ctx context.Context, x *kit.Ctx, o *outputOption) error {
	asJSON, c, err := rackReader(x, *o)
	if err != nil {
		return err
	}
	as, err := c.AppList(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintJSON(x.Out, as)
	}
	rows := make([][]string, 0, len(as))
	for _, a := range as {
		rows = append(rows, []string{a.Name, a.Status, a.Release})
	}
	return kit.PrintTable(x.Out, []string{"APP", "STATUS", "RELEASE"}, rows)
}

func runAppsInfo(ctx context.Context, x *kit.Ctx, o *appOutputOptions) error {
	asJSON, c, err := rackReader(x, o.outputOption)
	if err != nil {
		return err
	}
	name := ""
	if len(x.Args) == 1 {
		name = x.Args[0]
	} else if name, err = resolveApp(x, o.appOption); err != nil {
		return err
	}
	a, err := c.AppGet(ctx, name)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintJSON(x.Out, a)
	}
	kv := []string{"Name", a.Name, "Status", a.Status, "Generation", a.Generation,
		"Locked", strconv.FormatBool(a.Locked), "Release", a.Release}
	if a.Router != "" {
		kv = append(kv, "Router", a.Router)
	}
	return printInfo(x.Out, kv...)
}

func runAppsDelete(ctx context.Context, x *kit.Ctx) error {
	c, _, err := writeClient(ctx, x)
	if err != nil {
		return err
	}
	name := x.Args[0]
	return runStep(x, "Deleting "+name, func() (string, error) {
		if err := c.AppDelete(ctx, name); err != nil {
			return "", err
		}
		// Wait until the rack no longer knows the app, as upstream does.
		for {
			_, err := c.AppGet(ctx, name)
			var ae *gateway.APIError
			if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
				return "", nil
			}
			if err != nil {
				return "", err
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(waitInterval):
			}
		}
	})
}

// psOptions are the flags of ps: the rack lists only the processes of
// --service and --release. Upstream's --all is accepted; the list holds
// every process of the app already, one-off ones included.
type psOptions struct {
	appOutputOptions
	service, release string
	all              bool
}

func (o *psOptions) bind(fs *pflag.FlagSet) {
	o.appOutputOptions.bind(fs)
	fs.StringVarP(&o.service, "service", "s", "", "Only the processes of this service")
	fs.StringVar(&o.release, "release", "", "Only the processes running this release")
	fs.BoolVar(&o.all, "all", false, "Show all processes (the default; accepted as upstream)")
}

func runPs(ctx context.Context, x *kit.Ctx, o *psOptions) error {
	asJSON, c, app, err := appReader(x, o.appOutputOptions)
	if err != nil {
		return err
	}
	ps, err := c.ProcessListFiltered(ctx, app, o.service, o.release)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintJSON(x.Out, ps)
	}
	rows := make([][]string, 0, len(ps))
	for _, p := range ps {
		rows = append(rows, []string{p.Id, p.Name, p.Status, p.Release, ago(p.Started), p.Command})
	}
	// Upstream's ps table has no CPU or MEM column.
	return kit.PrintTable(x.Out, []string{"ID", "SERVICE", "STATUS", "RELEASE", "STARTED", "COMMAND"}, rows)
}

func runPsStop(ctx context.Context, x *kit.Ctx, o *appOption) error {
	pid := x.Args[0]
	c, app, err := appWriter(ctx, x, *o)
	if err != nil {
		return err
	}
	return runStep(x, "Stopping "+pid, func() (string, error) {
		return "", c.ProcessStop(ctx, app, pid)
	})
}

func runRestart(ctx context.Context, x *kit.Ctx, o *appOption) error {
	c, app, err := appWriter(ctx, x, *o)
	if err != nil {
		return err
	}
	ss, err := c.ServiceList(ctx, app)
	if err != nil {
		return err
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].Name < ss[j].Name })
	for _, s := range ss {
		if err := runStep(x, "Restarting "+s.Name, func() (string, error) {
			return "", c.ServiceRestart(ctx, app, s.Name)
		}); err != nil {
			return err
		}
	}
	return nil
}

// scaleOptions are scale's flags. Only the sizes given are changed, so
// each remembers whether it was.
type scaleOptions struct {
	appOutputOptions
	count, cpu, memory optionalInt
}

func (o *scaleOptions) bind(fs *pflag.FlagSet) {
	o.appOutputOptions.bind(fs)
	fs.Var(&o.count, "count", "Number of processes")
	fs.Var(&o.cpu, "cpu", "CPU units per process")
	fs.Var(&o.memory, "memory", "Memory (MB) per process")
}

func runScale(ctx context.Context, x *kit.Ctx, o *scaleOptions) error {
	var u rack.ServiceUpdate
	for _, f := range []struct {
		name string
		opt  optionalInt
		dst  **int
	}{{"count", o.count, &u.Count}, {"cpu", o.cpu, &u.Cpu}, {"memory", o.memory, &u.Memory}} {
		if f.opt.set {
			if f.opt.val < 0 {
				return kit.UsageErr(x.Cmd, "--%s must not be negative", f.name)
			}
			v := f.opt.val
			*f.dst = &v
		}
	}
	imperative := u.Count != nil || u.Cpu != nil || u.Memory != nil
	if imperative && len(x.Args) == 0 {
		return kit.UsageErr(x.Cmd, "service name required")
	}
	asJSON, err := o.json(x.Cmd)
	if err != nil {
		return err
	}
	client := rackClient
	if imperative {
		client = func(x *kit.Ctx) (*rack.Client, *kit.Target, error) { return writeClient(ctx, x) }
	}
	c, _, err := client(x)
	if err != nil {
		return err
	}
	app, err := resolveApp(x, o.appOption)
	if err != nil {
		return err
	}
	if imperative {
		svc := x.Args[0]
		return runStep(x, "Scaling "+svc, func() (string, error) {
			if err := c.ServiceUpdate(ctx, app, svc, u); err != nil {
				return "", err
			}
			return "", waitRunning(ctx, c, app)
		})
	}
	ss, err := c.ServiceList(ctx, app)
	if err != nil {
		return err
	}
	if len(x.Args) == 1 {
		var keep []rack.Service
		for _, s := range ss {
			if s.Name == x.Args[0] {
				keep = append(keep, s)
			}
		}
		if len(keep) == 0 {
			return ipc.Errorf(ipc.CodeNotFound, "service %q not found in app %s", x.Args[0], app)
		}
		ss = keep
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].Name < ss[j].Name })
	if asJSON {
		return kit.PrintJSON(x.Out, ss)
	}
	ps, err := c.ProcessList(ctx, app)
	if err != nil {
		return err
	}
	running := map[string]int{}
	for _, p := range ps {
		running[p.Name]++
	}
	rows := make([][]string, 0, len(ss))
	for _, s := range ss {
		rows = append(rows, []string{s.Name, strconv.Itoa(s.Count), strconv.Itoa(running[s.Name]), strconv.Itoa(s.Cpu), strconv.Itoa(s.Memory)})
	}
	return kit.PrintTable(x.Out, []string{"SERVICE", "DESIRED", "RUNNING", "CPU", "MEMORY"}, rows)
}

func runRackInfo(ctx context.Context, x *kit.Ctx, o *outputOption) error {
	asJSON, c, err := rackReader(x, *o)
	if err != nil {
		return err
	}
	s, err := c.SystemGet(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintJSON(x.Out, s)
	}
	kv := []string{"Name", s.Name, "Provider", s.Provider}
	if s.Region != "" {
		kv = append(kv, "Region", s.Region)
	}
	if s.Domain != "" {
		kv = append(kv, "Router", s.Domain)
	}
	kv = append(kv, "Status", s.Status, "Version", s.Version)
	return printInfo(x.Out, kv...)
}

func runInstances(ctx context.Context, x *kit.Ctx, o *outputOption) error {
	asJSON, c, err := rackReader(x, *o)
	if err != nil {
		return err
	}
	is, err := c.InstanceList(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintJSON(x.Out, is)
	}
	rows := make([][]string, 0, len(is))
	for _, i := range is {
		// As upstream: the rack's figures are fractions already, unless
		// it reports allocatable sizes to divide them by (the capacity
		// is never the divisor).
		cpu, mem := i.Cpu, i.Memory
		if i.CpuAllocatable > 0 && i.MemoryAllocatable > 0 {
			cpu, mem = i.Cpu/i.CpuAllocatable, i.Memory/i.MemoryAllocatable
		}
		rows = append(rows, []string{i.Id, i.Status, ago(i.Started), fmt.Sprint(i.Processes), percent(cpu), percent(mem), i.PublicIp, i.PrivateIp})
	}
	return kit.PrintTable(x.Out, []string{"ID", "STATUS", "STARTED", "PS", "CPU", "MEM", "PUBLIC", "PRIVATE"}, rows)
}
