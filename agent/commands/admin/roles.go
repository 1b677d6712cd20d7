package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/commands/native"
)

// roles and settings: GET /roles and GET /settings, level none, open to
// every person (not to API tokens).

func registerRoles(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "roles", Usage: "roles [role] [--output json]", MaxArgs: 1,
		Short: "List the gateway's roles, or one role's permissions",
		Bind:  bindOutput(runRoles),
	})
	r.Add(&kit.Command{
		Name: "settings", Usage: "settings [--output json]", MaxArgs: 0,
		Short: "Show the gateway's global settings and where each value comes from",
		Bind:  bindOutput(runSettings),
	})
}

// role is one entry of GET /roles.
type role struct {
	Name        string   `json:"name"`
	Label       string   `json:"label"`
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
}

// roleOrder is the gateway's own order of its built-in roles, least
// access first; other roles follow by name.
var roleOrder = []string{"viewer", "ops", "deployer", "cicd", "admin"}

func sortedRoles(m map[string]role) []role {
	rank := map[string]int{}
	for i, n := range roleOrder {
		rank[n] = i + 1
	}
	out := make([]role, 0, len(m))
	for name, r := range m {
		if r.Name == "" {
			r.Name = name
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		ri, rj := rank[out[i].Name], rank[out[j].Name]
		if ri == 0 {
			ri = len(roleOrder) + 1
		}
		if rj == 0 {
			rj = len(roleOrder) + 1
		}
		if ri != rj {
			return ri < rj
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func runRoles(ctx context.Context, x *kit.Ctx, asJSON bool) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	var m map[string]role
	raw, err := native.GetJSON(ctx, x, t, "/roles", &m)
	if err != nil {
		return err
	}
	if len(x.Args) == 1 {
		r, ok := m[x.Args[0]]
		if !ok {
			names := []string{}
			for _, r := range sortedRoles(m) {
				names = append(names, r.Name)
			}
			return kit.UsageErr(x.Cmd, "unknown role %q: the gateway's roles are %s", x.Args[0], strings.Join(names, ", "))
		}
		if asJSON {
			return kit.PrintJSON(x.Out, r)
		}
		perms := append([]string(nil), r.Permissions...)
		sort.Strings(perms)
		printInfo(x.Out, "Name", x.Args[0], "Label", orDash(r.Label), "Description", orDash(r.Description))
		fmt.Fprintln(x.Out, "Permissions:")
		for _, p := range perms {
			fmt.Fprintf(x.Out, "  - %s\n", p)
		}
		return nil
	}
	if asJSON {
		return kit.PrintRaw(x.Out, raw.Body)
	}
	rows := [][]string{}
	for _, r := range sortedRoles(m) {
		rows = append(rows, []string{r.Name, orDash(r.Label), strconv.Itoa(len(r.Permissions)), orDash(r.Description)})
	}
	return kit.PrintTable(x.Out, []string{"ROLE", "LABEL", "PERMISSIONS", "DESCRIPTION"}, rows)
}

// setting is one entry of GET /settings.
type setting struct {
	Value  json.RawMessage `json:"value"`
	Source string          `json:"source"`
	EnvVar string          `json:"env_var"`
}

// valueText shows a setting's value: a string as it is, anything else
// as its JSON.
func valueText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	if len(v) == 0 {
		return "-"
	}
	return string(v)
}

func runSettings(ctx context.Context, x *kit.Ctx, asJSON bool) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	var m map[string]setting
	raw, err := native.GetJSON(ctx, x, t, "/settings", &m)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintRaw(x.Out, raw.Body)
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	rows := make([][]string, 0, len(names))
	for _, n := range names {
		s := m[n]
		source := orDash(s.Source)
		if s.EnvVar != "" {
			source += " (" + s.EnvVar + ")"
		}
		rows = append(rows, []string{n, valueText(s.Value), source})
	}
	return kit.PrintTable(x.Out, []string{"SETTING", "VALUE", "SOURCE"}, rows)
}
