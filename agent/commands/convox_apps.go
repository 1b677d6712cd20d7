package commands

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/rack"
	"github.com/rack-gateway/rack-gateway/ipc"
)

func init() {
	register(&Command{
		Name: "apps", Usage: "apps [--output json]", MaxArgs: 0,
		Short: "List apps", Flags: cvxOutputFlag, Run: cvxRunApps,
	})
	register(&Command{
		Name: "apps info", Usage: "apps info [app] [--output json]", MaxArgs: 1,
		Short: "Get information about an app", Flags: cvxFlags(cvxAppFlag, cvxOutputFlag), Run: cvxRunAppsInfo,
	})
	register(&Command{
		Name: "apps delete", Usage: "apps delete <app>", MinArgs: 1, MaxArgs: 1, ArgHint: "an app name",
		Short: "Delete an app (needs a fresh MFA proof and the gateway's destructive-action policy)",
		Run:   cvxRunAppsDelete,
	})
	register(&Command{
		Name: "ps", Usage: "ps [-a app] [--output json]", MaxArgs: 0,
		Short: "List app processes", Flags: cvxFlags(cvxAppFlag, cvxOutputFlag), Run: cvxRunPs,
	})
	register(&Command{
		Name: "ps stop", Usage: "ps stop <pid> [-a app]", MinArgs: 1, MaxArgs: 1, ArgHint: "a process id",
		Short: "Stop a process", Flags: cvxAppFlag, Run: cvxRunPsStop,
	})
	register(&Command{
		Name: "restart", Usage: "restart [-a app]", MaxArgs: 0,
		Short: "Restart every service of an app", Flags: cvxAppFlag, Run: cvxRunRestart,
	})
	register(&Command{
		Name: "scale", Usage: "scale [<service>] [--count N] [--cpu N] [--memory N] [-a app]", MaxArgs: 1,
		Short: "Scale a service, or list service scale without flags",
		Flags: cvxFlags(cvxAppFlag, cvxOutputFlag, func(fs *pflag.FlagSet) {
			fs.Int("count", 0, "Number of processes")
			fs.Int("cpu", 0, "CPU units per process")
			fs.Int("memory", 0, "Memory (MB) per process")
		}),
		Run: cvxRunScale,
	})
	register(&Command{
		Name: "rack info", Usage: "rack info [--output json]", MaxArgs: 0,
		Short: "Get information about the rack", Flags: cvxOutputFlag, Run: cvxRunRackInfo,
	})
	register(&Command{
		Name: "instances", Usage: "instances [--output json]", MaxArgs: 0,
		Short: "List rack instances", Flags: cvxOutputFlag, Run: cvxRunInstances,
	})
}

func cvxRunApps(ctx context.Context, x *Ctx) error {
	asJSON, c, err := cvxRackReader(x)
	if err != nil {
		return err
	}
	as, err := c.AppList(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return cvxPrintJSON(x.Out, as)
	}
	rows := make([][]string, 0, len(as))
	for _, a := range as {
		rows = append(rows, []string{a.Name, a.Status, a.Release})
	}
	return cvxTable(x.Out, []string{"APP", "STATUS", "RELEASE"}, rows)
}

func cvxRunAppsInfo(ctx context.Context, x *Ctx) error {
	asJSON, c, err := cvxRackReader(x)
	if err != nil {
		return err
	}
	name := ""
	if len(x.Args) == 1 {
		name = x.Args[0]
	} else if name, err = cvxResolveApp(x); err != nil {
		return err
	}
	a, err := c.AppGet(ctx, name)
	if err != nil {
		return err
	}
	if asJSON {
		return cvxPrintJSON(x.Out, a)
	}
	kv := []string{"Name", a.Name, "Status", a.Status, "Generation", a.Generation,
		"Locked", strconv.FormatBool(a.Locked), "Release", a.Release}
	if a.Router != "" {
		kv = append(kv, "Router", a.Router)
	}
	return cvxInfo(x.Out, kv...)
}

func cvxRunAppsDelete(ctx context.Context, x *Ctx) error {
	c, _, err := cvxWriteClient(ctx, x)
	if err != nil {
		return err
	}
	name := x.Args[0]
	return cvxStep(x, "Deleting "+name, func() (string, error) {
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
			case <-time.After(cvxWaitInterval):
			}
		}
	})
}

func cvxRunPs(ctx context.Context, x *Ctx) error {
	asJSON, c, app, err := cvxAppReader(x)
	if err != nil {
		return err
	}
	ps, err := c.ProcessList(ctx, app)
	if err != nil {
		return err
	}
	if asJSON {
		return cvxPrintJSON(x.Out, ps)
	}
	rows := make([][]string, 0, len(ps))
	for _, p := range ps {
		rows = append(rows, []string{p.Id, p.Name, p.Status, p.Release, cvxPercent(p.Cpu), cvxPercent(p.Memory), cvxAgo(p.Started), p.Command})
	}
	return cvxTable(x.Out, []string{"ID", "SERVICE", "STATUS", "RELEASE", "CPU", "MEM", "STARTED", "COMMAND"}, rows)
}

func cvxRunPsStop(ctx context.Context, x *Ctx) error {
	pid := x.Args[0]
	c, app, err := cvxAppWriter(ctx, x)
	if err != nil {
		return err
	}
	return cvxStep(x, "Stopping "+pid, func() (string, error) {
		return "", c.ProcessStop(ctx, app, pid)
	})
}

func cvxRunRestart(ctx context.Context, x *Ctx) error {
	c, app, err := cvxAppWriter(ctx, x)
	if err != nil {
		return err
	}
	ss, err := c.ServiceList(ctx, app)
	if err != nil {
		return err
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].Name < ss[j].Name })
	for _, s := range ss {
		if err := cvxStep(x, "Restarting "+s.Name, func() (string, error) {
			return "", c.ServiceRestart(ctx, app, s.Name)
		}); err != nil {
			return err
		}
	}
	return nil
}

func cvxRunScale(ctx context.Context, x *Ctx) error {
	var u rack.ServiceUpdate
	for name, dst := range map[string]**int{"count": &u.Count, "cpu": &u.Cpu, "memory": &u.Memory} {
		if x.Flags.Changed(name) {
			v, _ := x.Flags.GetInt(name)
			if v < 0 {
				return usageErr(x.Cmd, "--%s must not be negative", name)
			}
			*dst = &v
		}
	}
	imperative := u.Count != nil || u.Cpu != nil || u.Memory != nil
	if imperative && len(x.Args) == 0 {
		return usageErr(x.Cmd, "service name required")
	}
	asJSON, err := cvxJSON(x)
	if err != nil {
		return err
	}
	client := cvxClient
	if imperative {
		client = func(x *Ctx) (*rack.Client, *Target, error) { return cvxWriteClient(ctx, x) }
	}
	c, _, err := client(x)
	if err != nil {
		return err
	}
	app, err := cvxResolveApp(x)
	if err != nil {
		return err
	}
	if imperative {
		svc := x.Args[0]
		return cvxStep(x, "Scaling "+svc, func() (string, error) {
			if err := c.ServiceUpdate(ctx, app, svc, u); err != nil {
				return "", err
			}
			return "", cvxWaitRunning(ctx, c, app)
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
		return cvxPrintJSON(x.Out, ss)
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
	return cvxTable(x.Out, []string{"SERVICE", "DESIRED", "RUNNING", "CPU", "MEMORY"}, rows)
}

func cvxRunRackInfo(ctx context.Context, x *Ctx) error {
	asJSON, c, err := cvxRackReader(x)
	if err != nil {
		return err
	}
	s, err := c.SystemGet(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return cvxPrintJSON(x.Out, s)
	}
	kv := []string{"Name", s.Name, "Provider", s.Provider}
	if s.Region != "" {
		kv = append(kv, "Region", s.Region)
	}
	if s.Domain != "" {
		kv = append(kv, "Router", s.Domain)
	}
	kv = append(kv, "Status", s.Status, "Version", s.Version)
	return cvxInfo(x.Out, kv...)
}

func cvxRunInstances(ctx context.Context, x *Ctx) error {
	asJSON, c, err := cvxRackReader(x)
	if err != nil {
		return err
	}
	is, err := c.InstanceList(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return cvxPrintJSON(x.Out, is)
	}
	rows := make([][]string, 0, len(is))
	for _, i := range is {
		cpu, mem := i.Cpu, i.Memory
		if i.CpuCapacity > 0 && i.MemoryCapacity > 0 {
			cpu, mem = i.Cpu/i.CpuCapacity, i.Memory/i.MemoryCapacity
		}
		rows = append(rows, []string{i.Id, i.Status, cvxAgo(i.Started), fmt.Sprint(i.Processes), cvxPercent(cpu), cvxPercent(mem), i.PublicIp, i.PrivateIp})
	}
	return cvxTable(x.Out, []string{"ID", "STATUS", "STARTED", "PS", "CPU", "MEM", "PUBLIC", "PRIVATE"}, rows)
}
