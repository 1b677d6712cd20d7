package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/rack"
	"github.com/rack-gateway/rack-gateway/ipc"
)

func init() {
	promote := func(fs *pflag.FlagSet) { fs.BoolP("promote", "p", false, "Promote the new release") }
	register(&Command{
		Name: "env", Usage: "env [-a app] [--output json]", MaxArgs: 0,
		Short: "List an app's env (secrets masked)", Flags: cvxFlags(cvxAppFlag, cvxOutputFlag), Run: cvxRunEnv,
	})
	register(&Command{
		Name: "env get", Usage: "env get <KEY> [--unmask] [-a app]", MinArgs: 1, MaxArgs: 1, ArgHint: "a variable name",
		Short: "Get one env var (--unmask shows a secret's value)",
		Flags: cvxFlags(cvxAppFlag, func(fs *pflag.FlagSet) {
			fs.Bool("unmask", false, "Show the real value of a secret (needs secret:read)")
		}),
		Run: cvxRunEnvGet,
	})
	register(&Command{
		Name: "env set", Usage: "env set <KEY=VALUE>... [--promote] [-a app]", MinArgs: 1, MaxArgs: -1, ArgHint: "at least one KEY=VALUE",
		Short: "Set env vars in a new release", Flags: cvxFlags(cvxAppFlag, promote), Run: cvxRunEnvSet,
	})
	register(&Command{
		Name: "env unset", Usage: "env unset <KEY>... [--promote] [-a app]", MinArgs: 1, MaxArgs: -1, ArgHint: "at least one KEY",
		Short: "Remove env vars in a new release", Flags: cvxFlags(cvxAppFlag, promote), Run: cvxRunEnvUnset,
	})
}

// cvxNativeEnv reads the app's env through the gateway's native API (§5.3),
// which is where listing and unmasking live; the proxy only ever shows
// masks.
func cvxNativeEnv(ctx context.Context, x *Ctx, app string, q url.Values) (map[string]string, error) {
	t, err := x.ResolveRack()
	if err != nil {
		return nil, err
	}
	path := "/api/v1/apps/" + url.PathEscape(app) + "/env"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	req := gateway.Request{Method: http.MethodGet, Path: path}
	raw, err := x.Call(ctx, t, req)
	if err != nil {
		return nil, gatewayErr(t, err)
	}
	if raw.Status/100 != 2 {
		return nil, responseErr(t, req.Method, raw)
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

func cvxRunEnv(ctx context.Context, x *Ctx) error {
	asJSON, err := cvxJSON(x)
	if err != nil {
		return err
	}
	app, err := cvxResolveApp(x)
	if err != nil {
		return err
	}
	env, err := cvxNativeEnv(ctx, x, app, nil)
	if err != nil {
		return err
	}
	if asJSON {
		return cvxPrintJSON(x.Out, env)
	}
	if s := rack.FormatEnv(env); s != "" {
		fmt.Fprintln(x.Out, s)
	}
	return nil
}

func cvxRunEnvGet(ctx context.Context, x *Ctx) error {
	key := x.Args[0]
	app, err := cvxResolveApp(x)
	if err != nil {
		return err
	}
	q := url.Values{"key": {key}}
	if u, _ := x.Flags.GetBool("unmask"); u {
		q.Set("secrets", "true")
	}
	env, err := cvxNativeEnv(ctx, x, app, q)
	if err != nil {
		return err
	}
	v := env[key]
	if v == "" {
		// The gateway answers "" for a missing key too; only the full
		// list tells an empty value from no variable at all.
		all, err := cvxNativeEnv(ctx, x, app, nil)
		if err != nil {
			return err
		}
		if _, ok := all[key]; !ok {
			return ipc.Errorf(ipc.CodeNotFound, "key %s not found", key)
		}
	}
	fmt.Fprintln(x.Out, v)
	return nil
}

// cvxParseSets checks every argument before anything is sent, so a typo
// never creates a half-edited release.
func cvxParseSets(x *Ctx) (map[string]string, []string, error) {
	sets := map[string]string{}
	var keys []string
	for _, a := range x.Args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.ContainsAny(k, " \t\n") {
			return nil, nil, usageErr(x.Cmd, "invalid argument %q: expected KEY=VALUE", a)
		}
		if _, dup := sets[k]; !dup {
			keys = append(keys, k)
		}
		sets[k] = v
	}
	sort.Strings(keys)
	return sets, keys, nil
}

func cvxRunEnvSet(ctx context.Context, x *Ctx) error {
	sets, keys, err := cvxParseSets(x)
	if err != nil {
		return err
	}
	return cvxEditEnv(ctx, x, "Setting "+strings.Join(keys, ", "), func(env map[string]string) {
		for k, v := range sets {
			env[k] = v
		}
	})
}

func cvxRunEnvUnset(ctx context.Context, x *Ctx) error {
	keys := append([]string(nil), x.Args...)
	for _, k := range keys {
		if k == "" || strings.Contains(k, "=") {
			return usageErr(x.Cmd, "invalid argument %q: expected a variable name", k)
		}
	}
	sort.Strings(keys)
	return cvxEditEnv(ctx, x, "Unsetting "+strings.Join(keys, ", "), func(env map[string]string) {
		for _, k := range keys {
			delete(env, k)
		}
	})
}

// cvxEditEnv is the upstream env edit flow through the proxy: read the
// latest release's (masked) env, apply edit, post the complete env as a new
// release (the gateway merges masks back, §6.4), and optionally promote.
func cvxEditEnv(ctx context.Context, x *Ctx, what string, edit func(map[string]string)) error {
	c, app, err := cvxAppWriter(ctx, x)
	if err != nil {
		return err
	}
	env := map[string]string{}
	rs, err := c.ReleaseList(ctx, app, 1)
	if err != nil {
		return err
	}
	if len(rs) > 0 {
		r, err := c.ReleaseGet(ctx, app, rs[0].Id)
		if err != nil {
			return err
		}
		env = rack.ParseEnv(r.Env)
	}
	edit(env)
	var id string
	err = cvxStep(x, what, func() (string, error) {
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
	cvxReleaseLine(x, id)
	if p, _ := x.Flags.GetBool("promote"); p {
		return cvxPromote(ctx, x, c, app, id)
	}
	return nil
}
