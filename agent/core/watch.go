package core

import (
	"strings"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/events"
	"github.com/rack-gateway/rack-gateway/agent/stepup"
	"github.com/rack-gateway/rack-gateway/platform/statusfile"
)

// ExpiringLead is how long before a window closes the "expiring" event
// fires, so a prompt or editor can warn.
const ExpiringLead = 60 * time.Second

// watcher turns engine window changes into events, timers for the
// expiring/expired events, and status-file rewrites.
type watcher struct {
	c      *Core
	mu     sync.Mutex
	timers map[string][]*time.Timer
	last   map[string]time.Time
}

// SessionKey is the engine key of a rack in a config directory.
func SessionKey(dir, rack string) string { return dir + "\x00" + rack }

func splitKey(key string) (dir, rack string) {
	dir, rack, _ = strings.Cut(key, "\x00")
	return
}

func (w *watcher) onWindow(key string, info stepup.WindowInfo) {
	dir, rack := splitKey(key)
	w.mu.Lock()
	for _, t := range w.timers[key] {
		t.Stop()
	}
	delete(w.timers, key)
	prev := w.last[key]
	w.last[key] = info.ExpiresAt
	now := time.Now()
	if info.ExpiresAt.After(now) {
		exp := info.ExpiresAt
		fire := func(typ string) func() {
			return func() {
				w.c.Events.Publish(events.Event{Type: typ, Rack: rack, ConfigDir: dir, ExpiresAt: &exp})
				if typ == events.WindowExpired {
					w.c.WriteStatus()
				}
			}
		}
		var ts []*time.Timer
		if d := exp.Add(-ExpiringLead).Sub(now); d > 0 {
			ts = append(ts, time.AfterFunc(d, fire(events.WindowExpiring)))
		}
		ts = append(ts, time.AfterFunc(exp.Sub(now), fire(events.WindowExpired)))
		w.timers[key] = ts
	}
	w.mu.Unlock()
	switch {
	case info.ExpiresAt.After(now) && !info.ExpiresAt.Equal(prev):
		exp := info.ExpiresAt
		w.c.Events.Publish(events.Event{Type: events.WindowOpened, Rack: rack, ConfigDir: dir, ExpiresAt: &exp, Method: info.Method})
	case !info.ExpiresAt.After(now) && prev.After(now):
		w.c.Events.Publish(events.Event{Type: events.WindowExpired, Rack: rack, ConfigDir: dir})
	}
	w.c.WriteStatus()
}

// WriteStatus rewrites the status file from the current state: one line
// per logged-in rack with its window. Errors are logged, never fatal: the
// file is a convenience for shell prompts.
func (c *Core) WriteStatus() {
	if c.StatusPath == "" {
		return
	}
	c.statusMu.Lock()
	defer c.statusMu.Unlock()
	var entries []statusfile.Entry
	for _, p := range c.Profiles() {
		cfg := p.Config()
		for _, name := range cfg.Names() {
			if !p.HasToken(name) {
				continue
			}
			g := cfg.Gateways[name]
			win := c.MFA.Window(SessionKey(p.Dir, name))
			e := statusfile.Entry{Rack: name, Email: g.Email, Current: name == cfg.Current}
			if win.ExpiresAt.After(time.Now()) {
				e.Expires = win.ExpiresAt
			}
			entries = append(entries, e)
		}
	}
	if err := statusfile.Write(c.StatusPath, entries); err != nil {
		c.Log.Warn("could not write the status file", "err", err)
	}
}
