package native

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// gateway and web: the gateway itself rather than the rack behind it.

func registerMisc(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "gateway", Usage: "gateway", MaxArgs: 0,
		Short: "Show gateway server information",
		Long:  "Display information about the connected rack-gateway server",
		Run:   runGateway,
	})
	r.Add(&kit.Command{
		Name: "web", Usage: "web", MaxArgs: 0,
		Short: "Open the gateway web UI in your browser",
		Run:   runWeb,
	})
}

// gatewayInfo is GET /api/v1/info with the fields the gateway command shows;
// gateway.Info leaves out the integrations.
type gatewayInfo struct {
	User struct {
		Email string   `json:"email"`
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
	} `json:"user"`
	Rack struct {
		Name  string `json:"name"`
		Alias string `json:"alias"`
		Host  string `json:"host"`
	} `json:"rack"`
	Integrations struct {
		Slack    bool `json:"slack"`
		GitHub   bool `json:"github"`
		CircleCI bool `json:"circleci"`
	} `json:"integrations"`
	Version struct {
		Version    string `json:"version"`
		CommitHash string `json:"commit_hash"`
	} `json:"version"`
}

func runGateway(ctx context.Context, x *kit.Ctx) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	var info gatewayInfo
	if _, err := getJSON(ctx, x, t, "/info", &info); err != nil {
		return err
	}
	w := x.Out
	fmt.Fprintf(w, "Gateway URL:     %s\n", t.URL)
	if info.Version.Version != "" {
		fmt.Fprintf(w, "Gateway Version: %s (%s)\n", info.Version.Version, info.Version.CommitHash)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Rack Name:       %s\n", info.Rack.Name)
	if info.Rack.Alias != "" && info.Rack.Alias != info.Rack.Name {
		fmt.Fprintf(w, "Rack Alias:      %s\n", info.Rack.Alias)
	}
	if info.Rack.Host != "" {
		fmt.Fprintf(w, "Rack Host:       %s\n", info.Rack.Host)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Logged in as:    %s\n", info.User.Email)
	if info.User.Name != "" {
		fmt.Fprintf(w, "Name:            %s\n", info.User.Name)
	}
	if len(info.User.Roles) > 0 {
		fmt.Fprintf(w, "Roles:           %s\n", strings.Join(info.User.Roles, ", "))
	}
	var on []string
	for _, i := range []struct {
		ok   bool
		name string
	}{{info.Integrations.Slack, "Slack"}, {info.Integrations.GitHub, "GitHub"}, {info.Integrations.CircleCI, "CircleCI"}} {
		if i.ok {
			on = append(on, i.name)
		}
	}
	if len(on) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "Integrations:    %s\n", strings.Join(on, ", "))
	}
	return nil
}

// runWeb asks the CLI to open the browser: only it runs in the user's
// desktop session, the agent may not.
func runWeb(ctx context.Context, x *kit.Ctx) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	u := t.URL + "/app"
	fmt.Fprintf(x.Out, "Opening %s in your browser...\n", u)
	res, err := x.Term.Do(ctx, ipc.Action{Kind: ipc.ActionOpenURL, URL: u})
	if err == nil && res.Error != "" {
		err = errors.New(res.Error)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ipc.Interrupted("interrupted")
		}
		fmt.Fprintf(x.Out, "Failed to open browser automatically: %v\n", err)
		fmt.Fprintf(x.Out, "Please open this URL manually: %s\n", u)
	}
	return nil
}
