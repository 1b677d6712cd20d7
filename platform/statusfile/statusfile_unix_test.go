//go:build unix

package statusfile_test

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/platform/statusfile"
)

// A FIFO at the path (no writer) must not hang a prompt.
func TestReadRefusesNonRegularFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "status")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := statusfile.Read(p); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Read of a FIFO succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read blocked on a FIFO")
	}
	if _, err := statusfile.Read(filepath.Dir(p)); err == nil {
		t.Fatal("Read of a directory succeeded")
	}
}
