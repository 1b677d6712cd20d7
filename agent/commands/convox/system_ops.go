package convox

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/rack"
	"github.com/rack-gateway/rack-gateway/agent/stepup"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// systemInfo is GET /system with the rack's parameters, which the typed
// client's System leaves out.
type systemInfo struct {
	rack.System
	Parameters map[string]string `json:"parameters"`
}

// systemGet reads GET /system.
func systemGet(ctx context.Context, x *kit.Ctx, t *kit.Target) (*systemInfo, error) {
	var s systemInfo
	if err := streamJSON(ctx, x, t, http.MethodGet, stepup.ProxyPrefix+"/system", nil, &s); err != nil {
		return nil, err
	}
	if s.Parameters == nil {
		s.Parameters = map[string]string{}
	}
	return &s, nil
}

// systemUpdate is PUT /system with the Convox SDK's form (count, type,
// version, and parameters as one url-encoded field). It is step-up: the
// request carries the MFA it needs (see kit's Call).
func systemUpdate(ctx context.Context, x *kit.Ctx, t *kit.Target, form url.Values) error {
	req := gateway.Request{
		Method: http.MethodPut, Path: stepup.ProxyPrefix + "/system",
		Body: gateway.RawBody{ContentType: "application/x-www-form-urlencoded", Data: []byte(form.Encode())},
	}
	raw, err := x.Call(ctx, t, req)
	if err != nil {
		return kit.GatewayErr(t, err)
	}
	if raw.Status/100 != 2 {
		return kit.ResponseErr(t, http.MethodPut, raw)
	}
	return nil
}

// rackWait bounds the wait for the rack to be running again after an
// update (the upstream wait loop's bound for apps, as no other is given).
const rackWait = 35 * time.Minute

// waitRackRunning polls GET /system until the rack reports "running".
func waitRackRunning(ctx context.Context, x *kit.Ctx, t *kit.Target) error {
	deadline := time.Now().Add(rackWait)
	for {
		s, err := systemGet(ctx, x, t)
		if err != nil {
			return err
		}
		switch s.Status {
		case "running":
			return nil
		case "failed", "rollback":
			return ipc.Errorf(ipc.CodeGateway, "the rack update ended with status %s", s.Status).
				WithHint("'rack-gateway rack logs --no-follow' shows what the rack said.")
		}
		if time.Now().After(deadline) {
			return ipc.Errorf(ipc.CodeGateway, "timeout waiting for the rack to be running (status %s)", s.Status)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(waitInterval):
		}
	}
}

// rackUpdateStep runs one PUT /system as a step line, then, with wait,
// waits for the rack in the same step.
func rackUpdateStep(ctx context.Context, x *kit.Ctx, text string, form url.Values, wait bool) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	return runStep(x, text, func() (string, error) {
		if err := systemUpdate(ctx, x, t, form); err != nil {
			return "", err
		}
		if wait {
			return "", waitRackRunning(ctx, x, t)
		}
		return "", nil
	})
}

func runRackParams(ctx context.Context, x *kit.Ctx, o *outputOption) error {
	asJSON, err := o.json(x.Cmd)
	if err != nil {
		return err
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	s, err := systemGet(ctx, x, t)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintJSON(x.Out, s.Parameters)
	}
	keys := make([]string, 0, len(s.Parameters))
	for k := range s.Parameters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kv := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		kv = append(kv, k, s.Parameters[k])
	}
	return printInfo(x.Out, kv...)
}

func runRackParamsSet(ctx context.Context, x *kit.Ctx, o *rackWaitOption) error {
	params := url.Values{}
	for _, a := range x.Args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return kit.UsageErr(x.Cmd, "Key=Value expected: %s", a)
		}
		params.Set(k, v)
	}
	form := url.Values{"parameters": {params.Encode()}}
	return rackUpdateStep(ctx, x, "Updating parameters", form, o.wait)
}

func runRackPs(ctx context.Context, x *kit.Ctx, o *rackPsOptions) error {
	asJSON, err := o.json(x.Cmd)
	if err != nil {
		return err
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	path := stepup.ProxyPrefix + "/system/processes"
	if o.all {
		path += "?all=true"
	}
	var ps []rack.Process
	if err := streamJSON(ctx, x, t, http.MethodGet, path, nil, &ps); err != nil {
		return err
	}
	if asJSON {
		return kit.PrintJSON(x.Out, ps)
	}
	rows := make([][]string, 0, len(ps))
	for _, p := range ps {
		rows = append(rows, []string{p.Id, p.App, p.Name, p.Status, p.Release, ago(p.Started), p.Command})
	}
	return kit.PrintTable(x.Out, []string{"ID", "APP", "SERVICE", "STATUS", "RELEASE", "STARTED", "COMMAND"}, rows)
}

func runRackReleases(ctx context.Context, x *kit.Ctx, o *outputOption) error {
	asJSON, err := o.json(x.Cmd)
	if err != nil {
		return err
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	var rs []rack.Release
	if err := streamJSON(ctx, x, t, http.MethodGet, stepup.ProxyPrefix+"/system/releases", nil, &rs); err != nil {
		return err
	}
	if asJSON {
		return kit.PrintJSON(x.Out, rs)
	}
	rows := make([][]string, 0, len(rs))
	for _, r := range rs {
		rows = append(rows, []string{r.Id, ago(r.Created)})
	}
	return kit.PrintTable(x.Out, []string{"VERSION", "UPDATED"}, rows)
}

func runRackScale(ctx context.Context, x *kit.Ctx, o *rackScaleOptions) error {
	form := url.Values{}
	if o.count.set {
		form.Set("count", strconv.Itoa(o.count.val))
	}
	if o.typ.set {
		form.Set("type", o.typ.val)
	}
	if len(form) > 0 {
		return rackUpdateStep(ctx, x, "Scaling rack", form, false)
	}
	asJSON, err := o.json(x.Cmd)
	if err != nil {
		return err
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	s, err := systemGet(ctx, x, t)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintJSON(x.Out, s)
	}
	return printInfo(x.Out, "Autoscale", s.Parameters["Autoscale"], "Count", strconv.Itoa(s.Count),
		"Status", s.Status, "Type", s.Type)
}

func runRackUpdate(ctx context.Context, x *kit.Ctx, o *rackUpdateOptions) error {
	version := strings.TrimSpace(o.version)
	if len(x.Args) == 1 {
		arg := strings.TrimSpace(x.Args[0])
		if version != "" && arg != version {
			return kit.UsageErr(x.Cmd, "two versions given: --version %s and %s", version, arg)
		}
		version = arg
	}
	if version == "" {
		// The Convox CLI would look the next version up on the internet;
		// the agent talks only to the gateway, so the version is named.
		return kit.UsageErr(x.Cmd, "rack update requires the version to update to (--version 3.21.4)")
	}
	form := url.Values{"version": {version}}
	return rackUpdateStep(ctx, x, "Updating to "+version, form, o.wait)
}
