package core

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/config"
	"github.com/rack-gateway/rack-gateway/platform/secrets"
)

// Profile is one config directory: its config.json, its secret store and an
// in-memory cache of tokens, so a warm command makes no keyring call.
//
// The secret store is opened on the first token access, not with the
// profile: opening it probes the OS keyring, and commands that need no
// stored session (every API-token and most --no-agent runs) must never
// touch the keyring (docs/architecture.md, "A command's path").
type Profile struct {
	Dir string

	core    *Core
	mu      sync.Mutex
	cfg     *config.Config
	modTime time.Time
	store   secrets.Store // nil until storeLocked opens it
	tokens  map[string]string
	notices []string
}

func loadProfile(c *Core, dir string) (*Profile, error) {
	p := &Profile{Dir: dir, core: c, tokens: map[string]string{}}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.loadLocked(); err != nil {
		return nil, err
	}
	return p, nil
}

// storeLocked opens the secret store on first use. A failure is not kept:
// the next access tries again, so a keyring that comes back is used.
func (p *Profile) storeLocked() (secrets.Store, error) {
	if p.store != nil {
		return p.store, nil
	}
	s, err := p.core.OpenStore(p.Dir)
	if err != nil {
		return nil, fmt.Errorf("open secret store: %w", err)
	}
	p.store = s
	return s, nil
}

// loadLocked reads config.json. Tokens the upstream CLI left in it move into
// the secret store first and only then disappear from the file, so a failure
// in between loses nothing.
func (p *Profile) loadLocked() error {
	cfg, tokens, changed, err := config.Load(p.Dir)
	if err != nil {
		return err
	}
	for rack, tok := range tokens {
		store, err := p.storeLocked()
		if err != nil {
			return fmt.Errorf("move the token for %s out of config.json: %w", rack, err)
		}
		if err := store.Set(p.account(rack), tok); err != nil {
			return fmt.Errorf("move the token for %s from config.json into the %s: %w", rack, store.Kind(), err)
		}
		p.tokens[rack] = tok
		p.notices = append(p.notices, fmt.Sprintf(
			"Notice: moved the session token for %s out of %s into the %s.",
			rack, filepath.Join(p.Dir, config.FileName), store.Describe()))
		p.core.Log.Info("migrated token from config.json", "rack", rack, "store", store.Kind())
	}
	p.notices = append(p.notices, cfg.Notices()...)
	if changed {
		if err := cfg.Save(p.Dir); err != nil {
			return err
		}
	}
	p.cfg = cfg
	p.modTime = p.stat()
	return nil
}

func (p *Profile) stat() time.Time {
	st, err := os.Stat(filepath.Join(p.Dir, config.FileName))
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

// reloadIfChanged picks up edits made by another program (or the upstream
// CLI) since the last load.
func (p *Profile) reloadIfChanged() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stat().Equal(p.modTime) {
		return nil
	}
	return p.loadLocked()
}

// account is the keyring account for a rack. The default config directory
// uses the bare rack alias (docs/architecture.md, "The agent's state"); other directories are namespaced
// so that two configs with the same alias never share a token.
func (p *Profile) account(rack string) string {
	if def, err := defaultConfigDir(); err == nil && filepath.Clean(def) == filepath.Clean(p.Dir) {
		return rack
	}
	return rack + "@" + p.Dir
}

// Config returns a deep-enough copy of the config for reading.
func (p *Profile) Config() config.Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := *p.cfg
	c.Gateways = make(map[string]*config.Gateway, len(p.cfg.Gateways))
	for k, v := range p.cfg.Gateways {
		if v == nil {
			continue // not a rack (config.Config.Names skips it too)
		}
		g := *v
		c.Gateways[k] = &g
	}
	return c
}

// Update changes the config under the profile lock and saves it.
func (p *Profile) Update(fn func(cfg *config.Config) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := fn(p.cfg); err != nil {
		return err
	}
	if err := p.cfg.Save(p.Dir); err != nil {
		return err
	}
	p.modTime = p.stat()
	return nil
}

// Token returns the rack's session token, or "" when there is none.
func (p *Profile) Token(rack string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.tokens[rack]; ok {
		return t, nil
	}
	store, err := p.storeLocked()
	if err != nil {
		return "", err
	}
	t, err := store.Get(p.account(rack))
	if errors.Is(err, secrets.ErrNotFound) {
		// Remember the absence too: status reads must not hit the keyring
		// (a D-Bus round trip) for every rack that is not logged in.
		p.tokens[rack] = ""
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read token from the %s: %w", store.Describe(), err)
	}
	p.tokens[rack] = t
	return t, nil
}

// SetToken stores a rack's session token.
func (p *Profile) SetToken(rack, token string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	store, err := p.storeLocked()
	if err != nil {
		return err
	}
	if err := store.Set(p.account(rack), token); err != nil {
		return fmt.Errorf("save token in the %s: %w", store.Describe(), err)
	}
	p.tokens[rack] = token
	return nil
}

// DeleteToken forgets a rack's session token.
func (p *Profile) DeleteToken(rack string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	store, err := p.storeLocked()
	if err != nil {
		return err
	}
	p.tokens[rack] = ""
	if err := store.Delete(p.account(rack)); err != nil {
		return fmt.Errorf("remove token from the %s: %w", store.Describe(), err)
	}
	return nil
}

// HasToken reports whether a token is cached or stored, without an error.
func (p *Profile) HasToken(rack string) bool {
	t, err := p.Token(rack)
	return err == nil && t != ""
}

// StoreDescription says where tokens live, for `rack` and `agent status`.
// It opens the store if no command has yet.
func (p *Profile) StoreDescription() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	store, err := p.storeLocked()
	if err != nil {
		return "unavailable: " + err.Error()
	}
	return store.Describe()
}

// TokenState is Token for displays: whether the rack has a session, and the
// error when the store could not say (a keyring that does not answer must
// not read as "not logged in").
func (p *Profile) TokenState(rack string) (bool, error) {
	t, err := p.Token(rack)
	return t != "", err
}

// TakeNotices returns one-time notices (such as a token migration) and
// forgets them, so each is shown once.
func (p *Profile) TakeNotices() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.notices
	p.notices = nil
	return n
}
