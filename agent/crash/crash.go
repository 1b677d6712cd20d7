// Package crash keeps a bug in a goroutine that a command started from
// taking the whole agent down. net/http recovers a handler's own panics,
// but a panic in any other goroutine ends the process, and with it every
// terminal's session cache and open MFA window. Every goroutine the agent
// starts goes through Go, which logs such a panic at error level, with its
// stack, and lets the goroutine's own deferred clean-up end the command
// (closing its stream, cancelling its context) instead of the agent.
package crash

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
)

var logger atomic.Pointer[slog.Logger]

// SetLogger sets where recovered panics are written (the agent log). Until
// it is called they go to slog's default logger.
func SetLogger(l *slog.Logger) { logger.Store(l) }

// Go runs f in a new goroutine that survives f's panic; name says which
// goroutine it was in the log. onPanic, when not nil, runs after the
// panic is logged: the place to end whatever f was serving.
func Go(name string, f func(), onPanic ...func()) {
	go func() {
		defer Recover(name, onPanic...)
		f()
	}()
}

// Recover, deferred at the top of a goroutine, logs a panic instead of
// letting it end the process, then runs onPanic.
func Recover(name string, onPanic ...func()) {
	v := recover()
	if v == nil {
		return
	}
	l := logger.Load()
	if l == nil {
		l = slog.Default()
	}
	l.Error("goroutine panic", "goroutine", name, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	for _, f := range onPanic {
		if f != nil {
			f()
		}
	}
}
