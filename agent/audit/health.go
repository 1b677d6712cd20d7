package audit

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Health remembers whether a file the agent writes for the user's sake
// (the audit log, the agent log) is being written. Nobody reads those files
// as they are written, so a full disk would otherwise lose them without a
// word: the agent shows the failure once on the next command's stderr
// (TakeWarning) and in /v1/status (Err). The methods accept a nil Health.
type Health struct {
	name string // what the file is, for the warning: "audit log"
	path string

	mu     sync.Mutex
	err    error // the last write's failure; nil once a write succeeds
	warned bool  // the current failure was shown
}

// NewHealth tracks the file at path, called name in warnings.
func NewHealth(name, path string) *Health { return &Health{name: name, path: path} }

// Record notes the outcome of one write: nil for a success.
func (h *Health) Record(err error) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.err, h.warned = nil, false
		return
	}
	h.err = err
}

// Err is the current failure in a few words ("" when the last write
// succeeded), for the status.
func (h *Health) Err() string {
	if h == nil {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		return ""
	}
	return fmt.Sprintf("%s: %s", h.path, cause(h.err))
}

// TakeWarning returns the warning line for a failure not shown yet, once;
// "" when there is nothing new to say. A failure after a success is new.
func (h *Health) TakeWarning() string {
	if h == nil {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil || h.warned {
		return ""
	}
	h.warned = true
	return fmt.Sprintf("warning: the agent could not write its %s (%s): %s", h.name, tildePath(h.path), cause(h.err))
}

// Writer returns w with the outcome of every write recorded in h: the
// log/slog handlers drop write errors, so this is where they are seen.
func (h *Health) Writer(w io.Writer) io.Writer { return healthWriter{w: w, h: h} }

type healthWriter struct {
	w io.Writer
	h *Health
}

func (hw healthWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	hw.h.Record(err)
	return n, err
}

// cause is the part of err that says what went wrong ("no space left on
// device"), without the operation and path the warning names already.
func cause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return strings.TrimPrefix(err.Error(), "audit: ")
}

// tildePath shortens a path under the home directory to ~/…, as a user
// would type it.
func tildePath(p string) string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return p
	}
	if rel, err := filepath.Rel(home, p); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
		return filepath.Join("~", rel)
	}
	return p
}
