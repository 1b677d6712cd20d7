// Package statusfile reads and writes the agent's status file: a tiny text
// file that lets shell prompts show each rack's MFA step-up countdown
// without talking to the agent. The agent rewrites it whenever a step-up
// window opens or closes or a login changes; prompts read it on every Enter.
//
// # Location
//
// The file lives next to the agent socket (see transport.RuntimeDir) and is named
// "status":
//
//   - Linux and the BSDs: $XDG_RUNTIME_DIR/rack-gateway/status when
//     XDG_RUNTIME_DIR is set and absolute, else
//     $TMPDIR/rack-gateway-<uid>/status (TMPDIR defaults to /tmp);
//   - macOS: always $TMPDIR/rack-gateway-<uid>/status;
//   - Windows: %LocalAppData%\rack-gateway\status.
//
// Path computes this from the environment alone, without creating or
// checking anything, so a prompt pays nothing for it. The writer (the agent)
// is the one that creates the owner-only directory.
//
// # Format (version 1)
//
// The file is UTF-8 text, one record per line, '\n'-terminated:
//
//	# rack-gateway status v1
//	<rack> <expiry> <email> <current>
//
// with exactly one space between fields, where
//
//   - rack is the rack name (never contains whitespace);
//   - expiry is the step-up window's expiry in Unix seconds, or 0 when the
//     rack has no open window;
//   - email is the logged-in user's email, or "-" when unknown;
//   - current is 1 for the current rack (at most one line) and 0 otherwise.
//
// There is one line per logged-in rack; a rack that is not logged in has
// no line. Lines starting with '#' are comments. The countdown is not in the
// file: readers compute it from expiry and the clock, so the file only
// changes when state does, not every second.
//
// Compatibility rules, so shells (read loops) and other tools can parse it
// without this package: readers skip blank lines, comments and lines they
// cannot parse; a later version may append fields after the fourth, which
// v1 readers ignore, but never changes the meaning of the first four.
//
// # Atomicity
//
// Write replaces the file with a rename of a fully written temporary file in
// the same directory, so a reader sees the old content or the new, never a
// partial file. With no entries, Write removes the file: a missing file and
// an empty one mean the same thing (nothing to show).
package statusfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Header is the first line of a version 1 status file.
const Header = "# rack-gateway status v1"

// FileName is the status file's name inside the runtime directory.
const FileName = "status"

// appName matches the runtime directory name the ipc package uses for the
// socket; the two must stay in step (a test checks it).
const appName = "rack-gateway"

// maxSize bounds what Read loads. A real file is one short line per rack;
// the cap only keeps a prompt from reading something huge that is not ours.
const maxSize = 1 << 20

// Entry is one logged-in rack.
type Entry struct {
	// Rack is the rack name. It never contains whitespace.
	Rack string
	// Expires is when the step-up window closes; the zero time means no
	// window is open. Only whole seconds are stored.
	Expires time.Time
	// Email is the logged-in user's email; empty when unknown.
	Email string
	// Current marks the current rack.
	Current bool
}

// Path returns the status file's path for the current user. It only reads
// the environment (and the uid): it creates nothing and checks nothing, so it
// is safe and cheap to call from a shell prompt. It must agree with
// transport.RuntimeDir, which is where the agent keeps its socket and writes the
// file; unlike RuntimeDir it does not verify the directory, which is fine
// for a reader because the file carries no secrets and the writer enforces
// the directory's permissions.
func Path() (string, error) {
	switch runtime.GOOS {
	case "windows":
		// os.UserCacheDir is %LocalAppData% on Windows, a plain Getenv.
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("statusfile: locating the runtime directory: %w", err)
		}
		return filepath.Join(base, appName, FileName), nil
	case "darwin", "ios":
		// XDG_RUNTIME_DIR is not part of the platform there; ipc ignores it.
	default:
		if base := os.Getenv("XDG_RUNTIME_DIR"); base != "" && filepath.IsAbs(base) {
			return filepath.Join(base, appName, FileName), nil
		}
	}
	// os.TempDir is $TMPDIR or /tmp: an environment read, no syscall.
	return filepath.Join(os.TempDir(), appName+"-"+strconv.Itoa(os.Getuid()), FileName), nil
}

// Format renders entries in the version 1 format, header first. Entries whose
// rack name is empty, contains whitespace or starts with '#' are left out
// (they could not be read back); an email that is empty or contains
// whitespace is written as "-". An expiry at or before the Unix epoch is
// written as 0 (no window).
func Format(entries []Entry) []byte {
	var b bytes.Buffer
	b.Grow(len(Header) + 1 + 64*len(entries))
	b.WriteString(Header)
	b.WriteByte('\n')
	for _, e := range entries {
		if !validField(e.Rack) || e.Rack[0] == '#' {
			continue
		}
		exp := int64(0)
		if !e.Expires.IsZero() && e.Expires.Unix() > 0 {
			exp = e.Expires.Unix()
		}
		email := e.Email
		if !validField(email) {
			email = "-"
		}
		cur := byte('0')
		if e.Current {
			cur = '1'
		}
		b.WriteString(e.Rack)
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(exp, 10))
		b.WriteByte(' ')
		b.WriteString(email)
		b.WriteByte(' ')
		b.WriteByte(cur)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// validField reports whether s can be one whitespace-separated field, for
// strings.Fields and for a shell's read alike (Unicode spaces are refused
// too, so the two can never disagree on where a field ends).
func validField(s string) bool {
	return s != "" && strings.IndexFunc(s, unicode.IsSpace) < 0
}

// Parse reads version 1 content. It is tolerant: blank lines, comments and
// malformed lines are skipped, and fields after the fourth are ignored, so
// a damaged or newer file still yields every line it can understand.
func Parse(data []byte) []Entry {
	var out []Entry
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if e, ok := parseLine(string(line)); ok {
			out = append(out, e)
		}
	}
	return out
}

func parseLine(line string) (Entry, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || strings.HasPrefix(f[0], "#") {
		return Entry{}, false
	}
	exp, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || exp < 0 {
		return Entry{}, false
	}
	var e Entry
	e.Rack = f[0]
	if exp > 0 {
		e.Expires = time.Unix(exp, 0)
	}
	if f[2] != "-" {
		e.Email = f[2]
	}
	switch f[3] {
	case "1":
		e.Current = true
	case "0":
	default:
		return Entry{}, false
	}
	return e, true
}

// Read loads and parses the status file at path (see Parse). A missing file
// is an error satisfying errors.Is(err, fs.ErrNotExist); callers that show
// a prompt treat every error as "nothing to show".
//
// Read never blocks on something that is not a regular file (a FIFO put at
// the path would otherwise hang the prompt): it opens without blocking and
// refuses anything else.
func Read(path string) ([]Entry, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("statusfile: %s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize))
	if err != nil {
		return nil, err
	}
	if len(data) == maxSize {
		// Cut the last, possibly truncated, line rather than misread it.
		if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
			data = data[:i+1]
		}
	}
	return Parse(data), nil
}

// Write atomically replaces the status file at path with entries (see the
// package documentation for the format). The file gets mode 0600. The
// directory must already exist: it is the agent's runtime directory, which
// transport.RuntimeDir creates with the permissions that protect the socket, and
// Write must not create it with any others. With no entries, Write removes
// the file (a missing file is not an error).
//
// There is no fsync: the file is a live view of in-memory state, normally on
// a tmpfs, and is rewritten on every change. A crash can at worst leave it
// empty, which readers show as nothing; the rename alone is what keeps
// concurrent readers from ever seeing a partial file.
func Write(path string, entries []Entry) (err error) {
	if len(entries) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("statusfile: removing %s: %w", path, err)
		}
		return nil
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return fmt.Errorf("statusfile: %q names a directory", path)
	}
	// The leading dot keeps the temporary file out of globs; the random
	// suffix keeps two writers (say, an agent being replaced by a new one)
	// from clobbering each other's temporary files.
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("statusfile: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(Format(entries)); err != nil {
		return fmt.Errorf("statusfile: writing %s: %w", tmp, err)
	}
	// CreateTemp already uses 0600 less the umask; set it exactly so the
	// contract does not depend on the caller's umask.
	if err = f.Chmod(0o600); err != nil {
		return fmt.Errorf("statusfile: setting mode of %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("statusfile: closing %s: %w", tmp, err)
	}
	if err = rename(tmp, path); err != nil {
		return fmt.Errorf("statusfile: replacing %s: %w", path, err)
	}
	return nil
}

// rename is os.Rename, retried briefly on Windows: there, replacing a file
// fails while a reader has it open (Go opens files without
// FILE_SHARE_DELETE), and a prompt may be reading it at that instant. On
// Unix a rename over an open file always succeeds, so one try is enough.
func rename(from, to string) error {
	err := os.Rename(from, to)
	if runtime.GOOS != "windows" {
		return err
	}
	for i := 0; err != nil && i < 20; i++ {
		time.Sleep(5 * time.Millisecond)
		err = os.Rename(from, to)
	}
	return err
}
