// Package audit writes the agent's local audit log: one JSON line per
// command a user runs through the agent, in
// $XDG_STATE_HOME/rack-gateway/audit.jsonl (docs/architecture.md, "The agent's state"). A line says who
// ran what, on which rack, whether MFA was asked for, and how it ended; it
// never holds a token, code or environment value (see Redact), because the
// log outlives the secrets it would otherwise leak (docs/architecture.md, "Security model").
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rack-gateway/rack-gateway/platform/paths"
)

// FileName is the audit log's name inside the state directory.
const FileName = "audit.jsonl"

// Defaults used by Open when maxBytes or keep is zero or negative.
const (
	DefaultMaxBytes = 5 << 20
	DefaultKeep     = 3
)

// The values of Entry.MFA.
const (
	MFANone     = "none"     // the command needed no MFA
	MFAPrompted = "prompted" // the user was asked and verified
	MFAReused   = "reused"   // a fresh step-up window was reused, no prompt
	MFAProof    = "proof"    // an always-level proof made for this request
	MFACode     = "code"     // the proof came from --mfa-code
)

// Limits that keep one line small: a huge argv (a pasted file, a long
// exec script) would otherwise make every Record slow and the log bulky.
const (
	maxArgBytes = 1024
	maxArgs     = 128
)

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("audit: log is closed")

var errNotRegular = errors.New("not a regular file")

// Entry is one audit line.
type Entry struct {
	Time    time.Time `json:"time"`
	PID     int       `json:"pid"`           // caller (the CLI process)
	Exe     string    `json:"exe,omitempty"` // caller's executable; see ExeOf
	Rack    string    `json:"rack,omitempty"`
	Command []string  `json:"command"` // argv, redacted by Record
	// MFA is one of the MFA* constants; empty is recorded as MFANone.
	MFA  string `json:"mfa"`
	Exit int    `json:"exit"`
	// Error is the machine-readable error code (ipc.Code*), never the
	// message, which can quote user input. A value that does not look like
	// a code is recorded as "unknown".
	Error    string  `json:"error,omitempty"`
	Duration float64 `json:"duration_ms"`
}

// Log appends entries to an audit file and rotates it. It is safe for
// concurrent use.
type Log struct {
	path     string
	maxBytes int64
	keep     int

	mu     sync.Mutex
	f      *os.File // nil after a failed reopen; the next Record retries
	closed bool
	health *Health
}

// DefaultPath returns the audit log's path in the state directory
// ($XDG_STATE_HOME/rack-gateway/audit.jsonl on Linux), creating the
// directory with mode 0700.
func DefaultPath() (string, error) {
	dir, err := paths.StateDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, FileName), nil
}

// Open opens (creating if needed) the audit log at path, with mode 0600 in
// a directory of mode 0700. When appending a line would take the file past
// maxBytes, the file is renamed to path.1 (path.1 to path.2, and so on; the
// file beyond path.<keep> is deleted) and a new file is started, so at most
// keep rotated files are kept beside the current one. maxBytes <= 0 means
// DefaultMaxBytes and keep <= 0 means DefaultKeep.
func Open(path string, maxBytes int64, keep int) (*Log, error) {
	if path == "" {
		return nil, errors.New("audit: empty path")
	}
	l := newLog(path, maxBytes, keep)
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

// New is Open for a long-running writer: a log that cannot be opened now
// (a full disk, a directory in the file's place) is returned all the same,
// with the failure in its Health, and every Record tries again.
func New(path string, maxBytes int64, keep int) *Log {
	l := newLog(path, maxBytes, keep)
	if path == "" {
		l.health.Record(errors.New("audit: empty path"))
		return l
	}
	l.health.Record(l.open())
	return l
}

func newLog(path string, maxBytes int64, keep int) *Log {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if keep <= 0 {
		keep = DefaultKeep
	}
	return &Log{path: path, maxBytes: maxBytes, keep: keep, health: NewHealth("audit log", path)}
}

// Path returns the file the log writes to.
func (l *Log) Path() string { return l.path }

// Health says whether the log is being written. It is nil for a nil Log.
func (l *Log) Health() *Health {
	if l == nil {
		return nil
	}
	return l.health
}

// Record appends e as one line. It redacts e.Command itself, so no caller
// can forget to, and fills in a zero Time with the current time. Each line
// is written with a single write on a file opened with O_APPEND, so
// concurrent writers (goroutines here, or an exec-mode agent in another
// process) never interleave inside a line. The lock is held only for the
// write and an occasional rotation (a few renames): Record never waits on
// anything slower than the local disk.
func (l *Log) Record(e Entry) error {
	line, err := encode(e)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	return l.write(line)
}

// write appends one line, rotating first when it is due, and tells the
// log's Health whether the line was written: a failed rotation alone
// loses nothing.
func (l *Log) write(line []byte) error {
	if err := l.current(); err != nil {
		l.health.Record(err)
		return err
	}
	var rotErr error
	if l.full(int64(len(line))) {
		// A failed rotation must not lose the line: fall back to appending
		// to whatever file is at path, and report the failure.
		if rotErr = l.rotate(); rotErr != nil && l.f == nil {
			if err := l.open(); err != nil {
				l.health.Record(err)
				return errors.Join(rotErr, err)
			}
		}
	}
	if _, err := l.f.Write(line); err != nil {
		err = &fs.PathError{Op: "audit: write", Path: l.path, Err: unwrapPath(err)}
		l.health.Record(err)
		return errors.Join(rotErr, err)
	}
	l.health.Record(nil)
	return rotErr
}

// unwrapPath is the cause inside an *os.File error, which already names
// the operation and the path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Close closes the file. Later calls to Record return ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// open opens path for appending, creating it 0600. A file left by an older
// version or a copy with looser bits is tightened: the log names the
// commands and racks a user works with.
func (l *Log) open() error {
	// The directory is made here, not once in Open, so a log whose
	// directory went away (or never came) recovers on the next Record.
	if err := paths.EnsurePrivateDir(filepath.Dir(l.path)); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return &fs.PathError{Op: "audit: open", Path: l.path, Err: errNotRegular}
	}
	// Windows has no mode bits to speak of; the profile's ACLs apply there.
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return fmt.Errorf("audit: restrict %s to 0600: %w", l.path, err)
		}
	}
	l.f = f
	return nil
}

// current makes sure l.f is the file now at path. Another process (a second
// agent, an exec-mode run, logrotate) may have rotated or removed it; lines
// written to the old descriptor would land in path.1 or nowhere.
func (l *Log) current() error {
	if l.f != nil {
		atPath, err1 := os.Stat(l.path)
		ours, err2 := l.f.Stat()
		if err1 == nil && err2 == nil && os.SameFile(atPath, ours) {
			return nil
		}
		l.f.Close()
		l.f = nil
	}
	return l.open()
}

// full reports whether appending n bytes would take the file past maxBytes.
// The size comes from the file itself, not a counter, so that appends by
// other processes count too. An empty file always takes the line, however
// long, or rotation would never end.
func (l *Log) full(n int64) bool {
	fi, err := l.f.Stat()
	if err != nil {
		return false
	}
	return fi.Size() > 0 && fi.Size()+n > l.maxBytes
}

// rotate shifts path.(keep-1) … path.1 up by one, dropping path.keep, moves
// path to path.1 and opens a new path. The file is closed first because
// Windows cannot rename an open file.
func (l *Log) rotate() error {
	l.f.Close()
	l.f = nil
	old := func(i int) string { return fmt.Sprintf("%s.%d", l.path, i) }
	if err := os.Remove(old(l.keep)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	for i := l.keep - 1; i >= 1; i-- {
		if err := os.Rename(old(i), old(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("audit: rotate: %w", err)
		}
	}
	if err := os.Rename(l.path, old(1)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	return l.open()
}

var errorCode = regexp.MustCompile(`^[a-z][a-z0-9_.:-]{0,63}$`)

// encode turns e into its JSON line, applying the redaction and the size
// limits. It runs outside the lock: redaction is the slow part of Record.
func encode(e Entry) ([]byte, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.MFA == "" {
		e.MFA = MFANone
	}
	if e.Error != "" && !errorCode.MatchString(e.Error) {
		e.Error = "unknown" // looks like a message, which may quote secrets
	}
	// NaN and ±Inf are not JSON: Marshal would refuse the whole line.
	if math.IsNaN(e.Duration) || math.IsInf(e.Duration, 0) || e.Duration < 0 {
		e.Duration = 0
	}
	e.Duration = math.Round(e.Duration*1000) / 1000 // microseconds suffice
	e.Command = limitArgs(Redact(e.Command))
	if e.Command == nil {
		e.Command = []string{} // "command": [] rather than null
	}
	e.Rack = truncate(e.Rack)
	e.Exe = truncate(e.Exe)
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("audit: encode: %w", err)
	}
	return append(b, '\n'), nil
}

// limitArgs caps argv at maxArgs words of at most maxArgBytes each. It runs
// after Redact, which needs whole arguments to recognise tokens.
func limitArgs(argv []string) []string {
	if len(argv) > maxArgs {
		extra := len(argv) - maxArgs
		argv = append(argv[:maxArgs:maxArgs], fmt.Sprintf("[%d more arguments]", extra))
	}
	for i, a := range argv {
		argv[i] = truncate(a)
	}
	return argv
}

// truncate cuts s to maxArgBytes on a UTF-8 boundary and says how much was
// cut.
func truncate(s string) string {
	if len(s) <= maxArgBytes {
		return s
	}
	cut := maxArgBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…[%d bytes cut]", s[:cut], len(s)-cut)
}
