// Package core holds the agent's long-lived state: one Profile per config
// directory (config.json plus its secret store and cached tokens) and one
// keep-alive HTTP client per gateway.
package core

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/events"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/ledger"
	"github.com/rack-gateway/rack-gateway/agent/stepup"
	"github.com/rack-gateway/rack-gateway/platform/fido"
	"github.com/rack-gateway/rack-gateway/platform/paths"
	"github.com/rack-gateway/rack-gateway/platform/secrets"
)

// Core is the agent's state. It is safe for concurrent use by many
// commands.
type Core struct {
	// Version is the agent's build version.
	Version string
	// Log never receives tokens or codes.
	Log *slog.Logger
	// OpenStore opens the secret store for a config directory.
	OpenStore func(configDir string) (secrets.Store, error)
	// Started is when the agent started.
	Started time.Time
	// MFA is the step-up engine shared by every command.
	MFA *stepup.Engine
	// Authenticator talks to security keys (nil: WebAuthn off).
	Authenticator fido.Authenticator
	// PIN caches the security key's PIN when the user opted in.
	PIN PINCache
	// Events fans state changes out to /v1/events and the status file.
	Events events.Bus
	// Prompts are the questions commands are waiting on.
	Prompts Prompts
	// StatusPath is the status file for shell prompts ("" to disable).
	StatusPath string
	// Seen is what the last commands saw of each rack, for completion.
	Seen Seen
	// CallTimeout bounds each non-streaming gateway request; zero means
	// gateway.CallTimeout. Set once before the agent serves.
	CallTimeout time.Duration

	statusMu sync.Mutex
	watch    *watcher
	roles    map[string]string

	mu       sync.Mutex
	profiles map[string]*Profile
	clients  map[string]*http.Client
}

// New returns an empty Core.
func New(version string, log *slog.Logger, openStore func(string) (secrets.Store, error)) *Core {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if openStore == nil {
		openStore = func(dir string) (secrets.Store, error) {
			return secrets.Open(secrets.Options{FileDir: dir})
		}
	}
	// The attempt ledger lives in the state directory, shared with every
	// other agent process of this user (--no-agent runs included). Without
	// one, every code is refused rather than sent unrecorded.
	ledgerDir, err := paths.StateDir()
	if err != nil {
		log.Warn("no state directory for the MFA attempt ledger; codes will be refused", "err", err)
		ledgerDir = ""
	}
	c := &Core{
		Version: version, Log: log, OpenStore: openStore, Started: time.Now(), MFA: stepup.New(ledger.Open(ledgerDir)),
		profiles: map[string]*Profile{}, clients: map[string]*http.Client{}, roles: map[string]string{},
	}
	c.watch = &watcher{c: c, timers: map[string][]*time.Timer{}, last: map[string]time.Time{}}
	c.MFA.OnChange = c.watch.onWindow
	return c
}

// SetRole remembers a user's gateway role for status displays.
func (c *Core) SetRole(key, role string) {
	c.mu.Lock()
	c.roles[key] = role
	c.mu.Unlock()
}

// Role returns the remembered role, or "".
func (c *Core) Role(key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.roles[key]
}

// Profile returns the profile for a config directory, loading it (and
// migrating tokens out of config.json) on first use.
func (c *Core) Profile(dir string) (*Profile, error) {
	c.mu.Lock()
	p := c.profiles[dir]
	c.mu.Unlock()
	if p != nil {
		return p, p.reloadIfChanged()
	}
	p, err := loadProfile(c, dir)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if existing := c.profiles[dir]; existing != nil {
		return existing, nil
	}
	c.profiles[dir] = p
	return p, nil
}

// Profiles returns the loaded profiles.
func (c *Core) Profiles() []*Profile {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Profile, 0, len(c.profiles))
	for _, p := range c.profiles {
		out = append(out, p)
	}
	return out
}

// Gateway returns a client for a gateway URL, sharing keep-alive
// connections across commands.
func (c *Core) Gateway(baseURL string) *gateway.Client {
	c.mu.Lock()
	hc := c.clients[baseURL]
	if hc == nil {
		hc = gateway.NewHTTPClient()
		c.clients[baseURL] = hc
	}
	c.mu.Unlock()
	g := gateway.New(baseURL, hc, "rack-gateway-agent/"+c.Version)
	g.Timeout = c.CallTimeout
	return g
}
