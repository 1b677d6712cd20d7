// Package events is the agent's in-process event bus: state changes
// (windows, logins, prompts, commands) fan out to /v1/events subscribers
// and to the status-file writer, in order.
package events

import (
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/ipc"
)

// Event types. They are part of the local API (docs/local-api.md).
const (
	WindowOpened    = "window_opened"
	WindowExpiring  = "window_expiring" // 60 s left
	WindowExpired   = "window_expired"
	Login           = "login"
	Logout          = "logout"
	PromptPending   = "prompt_pending"
	PromptAnswered  = "prompt_answered"
	PromptWithdrawn = "prompt_withdrawn" // ended unanswered: Ctrl-C, terminal gone, command ended
	CommandStarted  = "command_started"
	CommandFinished = "command_finished"
)

// Types lists every event type, for filter validation.
var Types = []string{WindowOpened, WindowExpiring, WindowExpired, Login, Logout,
	PromptPending, PromptAnswered, PromptWithdrawn, CommandStarted, CommandFinished}

// Event is one state change; the wire type of GET /v1/events.
type Event = ipc.Event

// Bus delivers events to subscribers in publication order.
type Bus struct {
	mu   sync.Mutex
	seq  uint64
	subs map[*Sub]struct{}
}

// Sub is one subscription. C is closed when the subscription ends; a
// subscriber that falls more than its buffer behind is dropped (Dropped
// then reports true) rather than slowing the agent down.
type Sub struct {
	C       <-chan Event
	c       chan Event
	filter  map[string]bool
	dropped bool
}

// Dropped reports whether the bus dropped this subscriber for being slow.
func (s *Sub) Dropped() bool { return s.dropped }

// Subscribe returns a subscription to the given types (all when empty).
func (b *Bus) Subscribe(types []string) *Sub {
	c := make(chan Event, 1024)
	s := &Sub{C: c, c: c}
	if len(types) > 0 {
		s.filter = map[string]bool{}
		for _, t := range types {
			s.filter[t] = true
		}
	}
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[*Sub]struct{}{}
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Unsubscribe ends a subscription.
func (b *Bus) Unsubscribe(s *Sub) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.c)
	}
}

// Publish stamps e with a sequence number and time and delivers it.
func (b *Bus) Publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	e.Seq = b.seq
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	for s := range b.subs {
		if s.filter != nil && !s.filter[e.Type] {
			continue
		}
		select {
		case s.c <- e:
		default:
			s.dropped = true
			delete(b.subs, s)
			close(s.c)
		}
	}
}

// Valid reports whether t is a known event type.
func Valid(t string) bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}
