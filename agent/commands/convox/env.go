package convox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/rack"
	"github.com/rack-gateway/rack-gateway/ipc"
)

func registerEnv(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "env", Usage: "env [-a app] [--output json]", MaxArgs: 0,
		Short: "List an app's env (secrets masked)", Bind: bindRun(runEnv),
	})
	r.Add(&kit.Command{
		Name: "env get", Usage: "env get <KEY> [--unmask] [-a app]", MinArgs: 1, MaxArgs: 1, ArgHint: "a variable name",
		Short: "Get one env var (--unmask shows a secret's value)",
		Bind:  bindRun(runEnvGet),
	})
	r.Add(&kit.Command{
		Name: "env set", Usage: "env set <KEY=VALUE>... [--replace] [--promote] [--id] [-a app]", MinArgs: 1, MaxArgs: -1, ArgHint: "at least one KEY=VALUE",
		Short: "Set env vars in a new release", Bind: bindRun(runEnvSet),
	})
	r.Add(&kit.Command{
		Name: "env unset", Usage: "env unset <KEY>... [--promote] [--id] [-a app]", MinArgs: 1, MaxArgs: -1, ArgHint: "at least one KEY",
		Short: "Remove env vars in a new release", Bind: bindRun(runEnvUnset),
	})
}

// envGetOptions are env get's flags.
type envGetOptions struct {
	appOption
	unmask bool
}

func (o *envGetOptions) bind(fs *pflag.FlagSet) {
	o.appOption.bind(fs)
	fs.BoolVar(&o.unmask, "unmask", false, "Show the real value of a secret (needs secret:read)")
}

// envEditOptions are the flags of the commands that write a new release
// of the env (env set, unset and edit).
type envEditOptions struct {
	appOption
	promote bool
}

func (o *envEditOptions) bind(fs *pflag.FlagSet) {
	o.appOption.bind(fs)
	fs.BoolVarP(&o.promote, "promote", "p", false, "Promote the new release")
}

// envUnsetOptions are env unset's flags: env edit's and --id, which
// leaves only the new release's id on stdout (the step lines go to
// stderr), for scripts.
type envUnsetOptions struct {
	envEditOptions
	idOnly bool
}

func (o *envUnsetOptions) bind(fs *pflag.FlagSet) {
	o.envEditOptions.bind(fs)
	fs.BoolVar(&o.idOnly, "id", false, "Print only the new release id on stdout; everything else goes to stderr")
}

// envSetOptions are env set's flags: env unset's and --replace, which
// makes the given variables the release's whole env instead of merging
// them into the latest release's.
type envSetOptions struct {
	envUnsetOptions
	replace bool
}

func (o *envSetOptions) bind(fs *pflag.FlagSet) {
	o.envUnsetOptions.bind(fs)
	fs.BoolVar(&o.replace, "replace", false, "Replace all env vars with the given ones")
}

// nativeEnv reads the app's env through the gateway's native API
// (GET /api/v1/apps/{app}/env), which is where listing and unmasking live;
// the rack proxy only ever shows masks. What the gateway refuses reads
// "failed to fetch env: <its words>", as upstream's env and env get say.
func nativeEnv(ctx context.Context, x *kit.Ctx, app string, q url.Values) (map[string]string, error) {
	t, err := x.ResolveRack()
	if err != nil {
		return nil, err
	}
	env, err := fetchEnv(ctx, x, t, app, q)
	if err != nil {
		return nil, fetchEnvErr(err)
	}
	return env, nil
}

// fetchEnvErr puts upstream's prefix on a failed env read, keeping the
// error's code (and so its exit status) and hint. An interruption stays
// as it is.
func fetchEnvErr(err error) error {
	e := ipc.AsError(err)
	if e.Code == ipc.CodeInterrupted {
		return e
	}
	c := *e
	c.Message = "failed to fetch env: " + e.Message
	return &c
}

func fetchEnv(ctx context.Context, x *kit.Ctx, t *kit.Target, app string, q url.Values) (map[string]string, error) {
	path := "/api/v1/apps/" + url.PathEscape(app) + "/env"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	req := gateway.Request{Method: http.MethodGet, Path: path}
	raw, err := x.Call(ctx, t, req)
	if err != nil {
		return nil, kit.GatewayErr(t, err)
	}
	if raw.Status/100 != 2 {
		return nil, kit.ResponseErr(t, req.Method, raw)
	}
	var out struct {
		Env map[string]string `json:"env"`
	}
	if err := json.Unmarshal(raw.Body, &out); err != nil {
		return nil, ipc.Errorf(ipc.CodeGateway, "unexpected answer from %s: %v", path, err)
	}
	if out.Env == nil {
		out.Env = map[string]string{}
	}
	return out.Env, nil
}

func runEnv(ctx context.Context, x *kit.Ctx, o *appOutputOptions) error {
	asJSON, err := o.json(x.Cmd)
	if err != nil {
		return err
	}
	app, err := resolveApp(x, o.appOption)
	if err != nil {
		return err
	}
	env, err := nativeEnv(ctx, x, app, nil)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintJSON(x.Out, env)
	}
	if s := rack.FormatEnv(env); s != "" {
		fmt.Fprintln(x.Out, s)
	}
	return nil
}

func runEnvGet(ctx context.Context, x *kit.Ctx, o *envGetOptions) error {
	key := x.Args[0]
	app, err := resolveApp(x, o.appOption)
	if err != nil {
		return err
	}
	q := url.Values{"key": {key}}
	if o.unmask {
		q.Set("secrets", "true")
	}
	env, err := nativeEnv(ctx, x, app, q)
	if err != nil {
		return err
	}
	// As upstream, a key the app does not have prints an empty line and
	// succeeds, like a key whose value is empty.
	v := env[key]
	fmt.Fprintln(x.Out, v)
	return nil
}

// parseSets checks every argument before anything is sent, so a typo
// never creates a half-edited release.
func parseSets(x *kit.Ctx) (map[string]string, []string, error) {
	sets := map[string]string{}
	var keys []string
	for _, a := range x.Args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.ContainsAny(k, " \t\n") {
			return nil, nil, kit.UsageErr(x.Cmd, "invalid argument %q: expected KEY=VALUE", a)
		}
		if _, dup := sets[k]; !dup {
			keys = append(keys, k)
		}
		sets[k] = v
	}
	sort.Strings(keys)
	return sets, keys, nil
}

func runEnvSet(ctx context.Context, x *kit.Ctx, o *envSetOptions) error {
	sets, keys, err := parseSets(x)
	if err != nil {
		return err
	}
	return editEnv(ctx, x, &o.envUnsetOptions, o.replace, "Setting "+strings.Join(keys, ", "), func(env map[string]string) {
		for k, v := range sets {
			env[k] = v
		}
	})
}

func runEnvUnset(ctx context.Context, x *kit.Ctx, o *envUnsetOptions) error {
	keys := append([]string(nil), x.Args...)
	for _, k := range keys {
		if k == "" || strings.Contains(k, "=") {
			return kit.UsageErr(x.Cmd, "invalid argument %q: expected a variable name", k)
		}
	}
	sort.Strings(keys)
	return editEnv(ctx, x, o, false, "Unsetting "+strings.Join(keys, ", "), func(env map[string]string) {
		for _, k := range keys {
			delete(env, k)
		}
	})
}

// editEnv is the upstream env edit flow through the proxy: read the
// latest release's (masked) env (none with replace), apply edit, post the
// complete env as a new release (the gateway reads a mask left in place as
// "keep the current value"), and optionally promote.
func editEnv(ctx context.Context, x *kit.Ctx, o *envUnsetOptions, replace bool, what string, edit func(map[string]string)) error {
	c, app, err := appWriter(ctx, x, o.appOption)
	if err != nil {
		return err
	}
	if o.idOnly {
		x.StepsToStderr = true // stdout carries only the release id
	}
	env := map[string]string{}
	rs, err := c.ReleaseList(ctx, app, 1)
	if err != nil {
		return err
	}
	if len(rs) > 0 && !replace {
		r, err := c.ReleaseGet(ctx, app, rs[0].Id)
		if err != nil {
			return err
		}
		env = rack.ParseEnv(r.Env)
	}
	edit(env)
	var id string
	err = runStep(x, what, func() (string, error) {
		r, err := c.ReleaseCreate(ctx, app, map[string]string{"env": rack.FormatEnv(env)})
		if err != nil {
			return "", err
		}
		id = r.Id
		return "", nil
	})
	if err != nil {
		return err
	}
	releaseLine(x, id)
	if o.promote {
		if err := promote(ctx, x, c, app, id); err != nil {
			return err
		}
	}
	if o.idOnly {
		fmt.Fprintln(x.Out, id)
	}
	return nil
}
