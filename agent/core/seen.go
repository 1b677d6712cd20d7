package core

import (
	"sync"
	"time"
)

// Seen remembers, per session (SessionKey: config dir and rack), the names
// the last commands saw: the rack's apps, and each app's process ids and
// release ids. Shell completion offers them without asking the rack, so a
// <TAB> never waits on the network. The zero value is ready to use.
type Seen struct {
	mu sync.Mutex
	m  map[seenKey]seenList
}

// The kinds of names Seen keeps.
const (
	SeenApps      = "apps"
	SeenProcesses = "processes" // per app
	SeenReleases  = "releases"  // per app
)

// seenMax bounds one list and seenLists the lists, so a rack with
// thousands of releases cannot grow the agent's memory without end.
const (
	seenMax   = 500
	seenLists = 1024
)

type seenKey struct{ session, kind, app string }

type seenList struct {
	names []string
	at    time.Time
}

// Put replaces what was seen of kind (for app, "" for apps) in session.
func (s *Seen) Put(session, kind, app string, names []string) {
	if len(names) > seenMax {
		names = names[:seenMax]
	}
	kept := append([]string(nil), names...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[seenKey]seenList{}
	}
	k := seenKey{session, kind, app}
	if _, ok := s.m[k]; !ok && len(s.m) >= seenLists {
		s.evictOldestLocked()
	}
	s.m[k] = seenList{names: kept, at: time.Now()}
}

func (s *Seen) evictOldestLocked() {
	var oldest seenKey
	var at time.Time
	for k, l := range s.m {
		if at.IsZero() || l.at.Before(at) {
			oldest, at = k, l.at
		}
	}
	delete(s.m, oldest)
}

// Get returns what was last seen of kind (for app) in session, in the
// rack's order (releases newest first), and whether anything was.
func (s *Seen) Get(session, kind, app string) ([]string, bool) {
	s.mu.Lock()
	l, ok := s.m[seenKey{session, kind, app}]
	s.mu.Unlock()
	if !ok {
		return nil, false
	}
	return append([]string(nil), l.names...), true
}
