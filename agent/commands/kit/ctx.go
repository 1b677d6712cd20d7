package kit

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/config"
	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/term"
	"github.com/rack-gateway/rack-gateway/internal/grammar"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// GlobalFlags are accepted by every command.
type GlobalFlags struct {
	Rack      string
	Config    string
	APIToken  string
	MFACode   string
	MFAMethod string
	NoAgent   bool
	Version   bool
}

// GlobalFlagSet is a flag set with only the global flags, for help,
// completion and man pages.
func GlobalFlagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet("", pflag.ContinueOnError)
	var g GlobalFlags
	g.bind(fs)
	return fs
}

// bind defines the global flags (internal/grammar.Globals, the one list
// the CLI reads too) on fs, bound to g.
func (g *GlobalFlags) bind(fs *pflag.FlagSet) {
	str := map[string]*string{"rack": &g.Rack, "config": &g.Config, "api-token": &g.APIToken, "mfa-code": &g.MFACode, "mfa-method": &g.MFAMethod}
	for _, f := range grammar.Globals {
		switch {
		case str[f.Long] != nil:
			fs.StringVarP(str[f.Long], f.Long, f.Short, "", f.Usage)
		case f.Long == "no-agent":
			fs.BoolVarP(&g.NoAgent, f.Long, f.Short, false, f.Usage)
		case f.Long == "version":
			// The CLI turns --version into the version command
			// (grammar.VersionArgs); bound here for help and completion.
			fs.BoolVarP(&g.Version, f.Long, f.Short, false, f.Usage)
		}
	}
}

// Ctx is one command invocation.
type Ctx struct {
	*Env
	Inv  *ipc.Invocation
	Term term.Terminal
	Cmd  *Command
	Args []string
	G    GlobalFlags
	Out  io.Writer // the user's stdout: data only
	Err  io.Writer // the user's stderr: progress, notices, warnings
	// Status is the exit status for a command that succeeds with a
	// non-zero status (a remote process's exit code).
	Status int
	// StepsToStderr moves step lines off stdout (convox's stepOut).
	StepsToStderr bool
	// result is what the command tells its host (see Run).
	result Result
	// noticed: the window's end was considered once (see stepUpNotice).
	noticed bool
}

// Getenv reads the caller's environment, never the agent's own: the agent
// inherited the environment of whichever terminal started it.
func (x *Ctx) Getenv(k string) string { return strings.TrimSpace(x.Inv.Env[k]) }

// Abs resolves a path relative to the caller's working directory.
func (x *Ctx) Abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(x.Inv.Cwd, p)
}

// Progress writes a line to the user's stderr.
func (x *Ctx) Progress(format string, args ...any) {
	fmt.Fprintf(x.Err, format+"\n", args...)
}

// ConfigDir resolves --config, then $GATEWAY_CLI_CONFIG_DIR (from the
// caller), then ~/.config/rack-gateway.
func (x *Ctx) ConfigDir() (string, error) {
	if x.G.Config != "" {
		return x.Abs(x.G.Config), nil
	}
	if d := x.Getenv("GATEWAY_CLI_CONFIG_DIR"); d != "" {
		return x.Abs(d), nil
	}
	return core.DefaultConfigDir()
}

// Profile loads the caller's profile and prints any one-time notices.
func (x *Ctx) Profile() (*core.Profile, error) {
	dir, err := x.ConfigDir()
	if err != nil {
		return nil, err
	}
	p, err := x.Core.Profile(dir)
	if err != nil {
		return nil, ConfigErr(err)
	}
	for _, n := range p.TakeNotices() {
		x.Progress("%s", n)
	}
	return p, nil
}

// EnvRackLabel is the rack name used when only RACK_GATEWAY_URL is set.
const EnvRackLabel = "(from environment)"

// Target is the rack a command acts on.
type Target struct {
	Name    string
	URL     string
	Gateway *config.Gateway // nil when the rack is not in config
	Profile *core.Profile
}

// ResolveRack applies the upstream order: --rack, $RACK_GATEWAY_RACK,
// ($RACK_GATEWAY_URL → a label), then the config's current rack.
func (x *Ctx) ResolveRack() (*Target, error) {
	p, err := x.Profile()
	if err != nil {
		return nil, err
	}
	cfg := p.Config()
	name := x.G.Rack
	if name == "" {
		name = x.Getenv("RACK_GATEWAY_RACK")
	}
	envURL := x.Getenv("RACK_GATEWAY_URL")
	if name == "" && envURL != "" {
		name = EnvRackLabel
	}
	if name == "" {
		name = cfg.Current
	}
	if name == "" {
		return nil, ipc.Errorf(ipc.CodeNotLoggedIn, "no rack selected").
			WithHint("Run: rack-gateway login <rack> <gateway-url>")
	}
	t := &Target{Name: name, Profile: p, Gateway: cfg.Gateways[name]}
	x.result.Rack = name
	switch {
	case envURL != "":
		u, err := gateway.NormalizeURL(envURL)
		if err != nil {
			return nil, ipc.Errorf(ipc.CodeUsage, "RACK_GATEWAY_URL: %v", err)
		}
		t.URL = u
	case t.Gateway != nil:
		t.URL = t.Gateway.URL
	default:
		return nil, ipc.Errorf(ipc.CodeNotFound, "rack %s is not configured", name).
			WithHint("Run: rack-gateway login %s <gateway-url>  (or 'rack-gateway racks' to list racks)", name)
	}
	x.stepUpNotice(t)
	return t, nil
}

// Credential returns the bearer credential for t: the API token when one was
// given, else the stored session, refused locally once it has expired.
func (x *Ctx) Credential(t *Target) (string, error) {
	if tok := x.APIToken(); tok != "" {
		return tok, nil
	}
	tok, err := t.Profile.Token(t.Name)
	if err != nil {
		return "", StoreErr(err)
	}
	if tok == "" {
		return "", ipc.Errorf(ipc.CodeNotLoggedIn, "not logged in to %s", t.Name).
			WithHint("Run: rack-gateway login %s", LoginArgs(t))
	}
	if t.Gateway != nil && t.Gateway.ExpiresAt != nil && time.Now().After(*t.Gateway.ExpiresAt) {
		return "", ipc.Errorf(ipc.CodeSessionExpired, "your session for %s expired at %s", t.Name, t.Gateway.ExpiresAt.Local().Format(time.RFC1123)).
			WithHint("Run: rack-gateway login %s", LoginArgs(t))
	}
	return tok, nil
}

// APIToken is --api-token, then $RACK_GATEWAY_API_TOKEN.
func (x *Ctx) APIToken() string {
	if x.G.APIToken != "" {
		return x.G.APIToken
	}
	return x.Getenv("RACK_GATEWAY_API_TOKEN")
}

func LoginArgs(t *Target) string {
	if t.Gateway == nil && t.URL != "" {
		return t.Name + " " + t.URL
	}
	return t.Name
}
