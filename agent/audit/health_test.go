package audit

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// A log that cannot be written says so once, in the status until a write
// succeeds, and again after a new failure.
func TestHealthOfAnUnwritableLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.Mkdir(path, 0o700); err != nil { // a directory in the file's place
		t.Fatal(err)
	}
	l := New(path, 0, 0)
	defer l.Close()
	h := l.Health()
	if err := l.Record(Entry{Command: []string{"apps"}}); err == nil {
		t.Fatal("a line was written into a directory")
	}
	if e := h.Err(); !strings.Contains(e, path) || !strings.Contains(e, "is a directory") {
		t.Errorf("Err() = %q", e)
	}
	w := h.TakeWarning()
	if !strings.HasPrefix(w, "warning: the agent could not write its audit log (") || !strings.HasSuffix(w, "): is a directory") {
		t.Errorf("warning = %q", w)
	}
	if again := h.TakeWarning(); again != "" {
		t.Errorf("warned twice: %q", again)
	}
	// The disk recovers: the next line is written and the status clears.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(Entry{Command: []string{"apps"}}); err != nil {
		t.Fatal(err)
	}
	if h.Err() != "" || h.TakeWarning() != "" {
		t.Errorf("still failing after a good write: %q", h.Err())
	}
	// A new failure is new news.
	h.Record(os.ErrPermission)
	if h.TakeWarning() == "" {
		t.Error("a second failure was not told")
	}
}

// The agent log goes through a Health writer; a full disk is seen there,
// where log/slog would drop the error.
func TestHealthWriterOnAFullDisk(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/dev/full is Linux's")
	}
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	h := NewHealth("log", "/var/log/agent.log")
	if _, err := h.Writer(f).Write([]byte("line\n")); err == nil {
		t.Fatal("no error from /dev/full")
	}
	if w := h.TakeWarning(); w != "warning: the agent could not write its log (/var/log/agent.log): no space left on device" {
		t.Errorf("warning = %q", w)
	}
	var nilHealth *Health
	nilHealth.Record(os.ErrClosed)
	if nilHealth.Err() != "" || nilHealth.TakeWarning() != "" || (*Log)(nil).Health() != nil {
		t.Error("a nil Health is not quiet")
	}
}
