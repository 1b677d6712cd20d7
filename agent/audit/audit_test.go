package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// readLines returns every line of path, failing on a line that is not a
// complete JSON entry (a split or interleaved write).
func readLines(t *testing.T, path string) []Entry {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", path)
	}
	var out []Entry
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: bad line %q: %v", path, sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestOpenModesAndDefaults(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "rack-gateway")
	path := filepath.Join(dir, FileName)
	l, err := Open(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.maxBytes != DefaultMaxBytes || l.keep != DefaultKeep || l.Path() != path {
		t.Fatalf("defaults: %d %d %q", l.maxBytes, l.keep, l.Path())
	}
	if err := l.Record(Entry{PID: 1, Command: []string{"racks"}}); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "windows" {
		return
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("file mode %04o, want 0600", m)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("dir mode %04o, want 0700", m)
	}
}

func TestOpenTightensExistingFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no mode bits")
	}
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // past the umask
		t.Fatal(err)
	}
	l, err := Open(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if m := mode(t, path); m != 0o600 {
		t.Errorf("file mode %04o, want 0600", m)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("", 0, 0); err == nil {
		t.Error("empty path accepted")
	}
	dir := t.TempDir()
	if _, err := Open(dir, 0, 0); err == nil {
		t.Error("a directory accepted as the log file")
	}
}

func TestRecordLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	l, err := Open(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	err = l.Record(Entry{
		Time: when, PID: 4242, Exe: "/usr/bin/rack-gateway", Rack: "prod",
		Command: []string{"env", "set", "SECRET=hunter2", "--api-token", apiToken, "-a", "web"},
		MFA:     MFAReused, Exit: 4, Error: "stepup_required", Duration: 12.3456789,
	})
	if err != nil {
		t.Fatal(err)
	}
	// A message instead of a code, a zero time, no MFA and a NaN duration
	// must still give a valid line.
	if err := l.Record(Entry{PID: 1, Error: "open /x: permission denied " + session, Duration: math.NaN()}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(Entry{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Record after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	raw, _ := os.ReadFile(path)
	for _, leak := range []string{"hunter2", apiToken[4:20], session[:16]} {
		if strings.Contains(string(raw), leak) {
			t.Errorf("log leaks %q:\n%s", leak, raw)
		}
	}
	lines := readLines(t, path)
	if len(lines) != 2 {
		t.Fatalf("got %d lines", len(lines))
	}
	e := lines[0]
	want := []string{"env", "set", "SECRET=" + Redacted, "--api-token", Redacted, "-a", "web"}
	if !e.Time.Equal(when) || e.PID != 4242 || e.Exe != "/usr/bin/rack-gateway" || e.Rack != "prod" ||
		strings.Join(e.Command, " ") != strings.Join(want, " ") || e.MFA != MFAReused || e.Exit != 4 ||
		e.Error != "stepup_required" || e.Duration != 12.346 {
		t.Errorf("entry: %+v", e)
	}
	e = lines[1]
	if e.Time.IsZero() || e.MFA != MFANone || e.Error != "unknown" || e.Duration != 0 || e.Command == nil {
		t.Errorf("entry: %+v", e)
	}
	if !strings.Contains(string(raw), `"command":[]`) {
		t.Errorf("empty command not written as []:\n%s", raw)
	}
}

func TestRecordLimitsSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	l, err := Open(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	argv := []string{"run", "web", "--", "sh", "-c", strings.Repeat("é", 3000)}
	for i := 0; i < 500; i++ {
		argv = append(argv, "x")
	}
	if err := l.Record(Entry{Command: argv}); err != nil {
		t.Fatal(err)
	}
	e := readLines(t, path)[0]
	if len(e.Command) != maxArgs+1 || !strings.HasPrefix(e.Command[maxArgs], "[") {
		t.Fatalf("argv not capped: %d words, last %q", len(e.Command), e.Command[len(e.Command)-1])
	}
	if a := e.Command[5]; len(a) > maxArgBytes+32 || !strings.Contains(a, "bytes cut]") || strings.ContainsRune(a, '\uFFFD') {
		t.Errorf("long argument not cut cleanly: %d bytes, tail %q", len(a), a[len(a)-20:])
	}
}

// TestRotation writes past maxBytes with keep=2 and checks that the files
// are shifted, that none but the newest exceeds maxBytes, that no line is
// split, and that every line is kept in order until it is older than .2.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	const maxBytes = 1000
	l, err := Open(path, maxBytes, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Fixed-width lines (a UTC time with nanoseconds, two-digit pids), so
	// that a file holds exactly perFile of them.
	entry := func(n int) Entry {
		return Entry{Time: time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC), PID: 10 + n,
			Command: []string{"apps", "info", fmt.Sprintf("app-%04d", n)}}
	}
	line, err := encode(entry(0))
	if err != nil {
		t.Fatal(err)
	}
	perFile := maxBytes / len(line)
	record := func(n int) {
		t.Helper()
		if err := l.Record(entry(n)); err != nil {
			t.Fatal(err)
		}
	}
	all := func() []int {
		var pids []int
		for _, p := range []string{path + ".2", path + ".1", path} {
			if fi, err := os.Stat(p); err == nil && fi.Size() > maxBytes {
				t.Errorf("%s has %d bytes, more than %d", p, fi.Size(), maxBytes)
			}
			for _, e := range readLines(t, p) {
				pids = append(pids, e.PID-10)
			}
		}
		return pids
	}

	// Enough lines to fill .2 and .1 and start the current file.
	n := 0
	for ; n < 2*perFile+1; n++ {
		record(n)
	}
	for _, p := range []string{path, path + ".1", path + ".2"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("after %d lines: %v", n, err)
		}
	}
	pids := all()
	if len(pids) != n {
		t.Fatalf("lost lines: have %v", pids)
	}
	for i, p := range pids {
		if p != i {
			t.Fatalf("lines out of order: %v", pids)
		}
	}

	// Keep writing: .3 never appears, and the three files hold the newest
	// lines with no gap: two full rotated files and the current one.
	for ; n < 80; n++ {
		record(n)
	}
	if _, err := os.Stat(path + ".3"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.3 exists with keep=2", path)
	}
	pids = all()
	if want := 2*perFile + (n-(2*perFile+1))%perFile + 1; len(pids) != want || pids[len(pids)-1] != n-1 {
		t.Logf("want %d lines", want)
		t.Fatalf("newest lines missing: %v", pids)
	}
	for i := 1; i < len(pids); i++ {
		if pids[i] != pids[i-1]+1 {
			t.Fatalf("gap in kept lines: %v", pids)
		}
	}
	if runtime.GOOS != "windows" {
		for _, p := range []string{path, path + ".1", path + ".2"} {
			if m := mode(t, p); m != 0o600 {
				t.Errorf("%s mode %04o", p, m)
			}
		}
	}
}

// TestRotationOversizedLine: a line longer than maxBytes still goes in (to
// a file of its own) rather than being dropped or rotating forever.
func TestRotationOversizedLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	l, err := Open(path, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < 3; i++ {
		if err := l.Record(Entry{PID: i, Command: []string{strings.Repeat("a", 200)}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := readLines(t, path); len(got) != 1 || got[0].PID != 2 {
		t.Errorf("current file: %+v", got)
	}
	if got := readLines(t, path+".1"); len(got) != 1 || got[0].PID != 1 {
		t.Errorf(".1: %+v", got)
	}
}

// TestFollowsExternalRotation: when something else moves the file away
// (another agent process rotating, logrotate), the next line goes to a new
// file at path, not to the moved one.
func TestFollowsExternalRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	l, err := Open(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Record(Entry{PID: 1}); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "windows" {
		return // an open file cannot be renamed there
	}
	if err := os.Rename(path, path+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(Entry{PID: 2}); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, path); len(got) != 1 || got[0].PID != 2 {
		t.Errorf("new file: %+v", got)
	}
	if got := readLines(t, path+".moved"); len(got) != 1 || got[0].PID != 1 {
		t.Errorf("moved file: %+v", got)
	}
}

func TestConcurrentRecord(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxBytes int64
		keep     int
	}{
		{"no rotation", 0, 0},
		{"rotating", 2000, 50}, // keep is large enough that nothing is dropped
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			l, err := Open(path, tc.maxBytes, tc.keep)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			const n = 50
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- l.Record(Entry{PID: 1000 + i, Rack: "prod", MFA: MFAPrompted,
						Command: []string{"env", "set", fmt.Sprintf("K%d=v", i), "--mfa-code", "123456"}})
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			files, _ := filepath.Glob(path + "*")
			seen := map[int]bool{}
			for _, f := range files {
				for _, e := range readLines(t, f) {
					if seen[e.PID] {
						t.Errorf("pid %d twice", e.PID)
					}
					seen[e.PID] = true
					if e.Command[3] != "--mfa-code" || e.Command[4] != Redacted {
						t.Errorf("unredacted: %q", e.Command)
					}
				}
			}
			if len(seen) != n {
				t.Errorf("got %d distinct lines in %d files, want %d", len(seen), len(files), n)
			}
		})
	}
}

func TestExeOf(t *testing.T) {
	if ExeOf(0) != "" || ExeOf(-1) != "" {
		t.Error("ExeOf of a bad pid is not empty")
	}
	got := ExeOf(os.Getpid())
	if runtime.GOOS != "linux" {
		if got != "" {
			t.Errorf("ExeOf on %s = %q", runtime.GOOS, got)
		}
		return
	}
	want, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	if got != want {
		t.Errorf("ExeOf(self) = %q, want %q", got, want)
	}
}

func TestDefaultPath(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("XDG_STATE_HOME is honoured everywhere, but keep the test to Unix defaults")
	}
	base := t.TempDir()
	t.Setenv("XDG_STATE_HOME", base)
	p, err := DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(base, "rack-gateway", FileName); p != want {
		t.Errorf("DefaultPath = %q, want %q", p, want)
	}
}
