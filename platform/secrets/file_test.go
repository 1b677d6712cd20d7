package secrets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func openFile(t *testing.T) (Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cfg")
	s, err := Open(Options{Backend: BackendFile, FileDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind() != BackendFile {
		t.Fatalf("Kind = %q, want file", s.Kind())
	}
	return s, dir
}

func TestFileStoreRoundTrip(t *testing.T) {
	s, dir := openFile(t)
	if _, err := s.Get("prod"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get on empty store: %v, want ErrNotFound", err)
	}
	if err := s.Set("prod", "tok-prod"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("staging", "tok-staging"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("prod", "tok-prod-2"); err != nil {
		t.Fatal(err)
	}
	for acct, want := range map[string]string{"prod": "tok-prod-2", "staging": "tok-staging"} {
		got, err := s.Get(acct)
		if err != nil || got != want {
			t.Errorf("Get(%q) = %q, %v; want %q", acct, got, err, want)
		}
	}

	// A second Store on the same directory sees the same data: nothing is
	// held only in memory.
	s2, err := Open(Options{Backend: BackendFile, FileDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s2.Get("staging"); got != "tok-staging" {
		t.Errorf("second store Get = %q", got)
	}
	if !strings.Contains(s.Describe(), filepath.Join(dir, FileName)) || !strings.Contains(s.Describe(), "0600") {
		t.Errorf("Describe = %q, want the path and 0600", s.Describe())
	}
}

func TestFileStorePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits do not apply on Windows")
	}
	s, dir := openFile(t)
	if err := s.Set("prod", "tok"); err != nil {
		t.Fatal(err)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %04o, want 0700", di.Mode().Perm())
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %04o, want 0600", fi.Mode().Perm())
	}

	// Loose bits (say, from a restore) are tightened on the next read.
	if err := os.Chmod(filepath.Join(dir, FileName), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("prod"); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Stat(filepath.Join(dir, FileName))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode after read %04o, want 0600", fi.Mode().Perm())
	}
}

func TestFileStoreDelete(t *testing.T) {
	s, dir := openFile(t)
	if err := s.Delete("absent"); err != nil {
		t.Fatalf("Delete of absent on empty store: %v", err)
	}
	const secretA, secretB = "SECRET-aaaa-1234", "SECRET-bbbb-5678"
	if err := s.Set("a", secretA); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("b", secretB); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("absent"); err != nil {
		t.Fatalf("Delete of absent: %v", err)
	}
	if err := s.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	assertNoSecretOnDisk(t, dir, secretA)
	if got, _ := s.Get("b"); got != secretB {
		t.Errorf("unrelated entry lost: %q", got)
	}

	if err := s.Delete("b"); err != nil {
		t.Fatal(err)
	}
	assertNoSecretOnDisk(t, dir, secretA)
	assertNoSecretOnDisk(t, dir, secretB)
	if _, err := os.Stat(filepath.Join(dir, FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file should be gone after the last Delete: %v", err)
	}
}

func TestFileStoreConcurrentSet(t *testing.T) {
	s, dir := openFile(t)
	// A second Store on the same file stands in for a second process; the
	// file lock, not just the mutex, must keep its writes.
	s2, err := Open(Options{Backend: BackendFile, FileDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s
			if i%2 == 1 {
				st = s2
			}
			errs <- st.Set(fmt.Sprintf("rack-%d", i), fmt.Sprintf("tok-%d", i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		got, err := s.Get(fmt.Sprintf("rack-%d", i))
		if err != nil || got != fmt.Sprintf("tok-%d", i) {
			t.Errorf("rack-%d: got %q, %v", i, got, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestFileStoreCorruptFileDoesNotLeakContent(t *testing.T) {
	s, dir := openFile(t)
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(`{"secrets": {"x": "LEAKME`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get("x")
	if err == nil {
		t.Fatal("expected an error for a corrupt file")
	}
	if strings.Contains(err.Error(), "LEAKME") {
		t.Errorf("error quotes file content: %v", err)
	}
}

func TestOpenBackendSelection(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvBackend, "file")
	s, err := Open(Options{FileDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind() != BackendFile || !strings.Contains(s.Describe(), EnvBackend) {
		t.Errorf("env selection: Kind %q, Describe %q", s.Kind(), s.Describe())
	}

	t.Setenv(EnvBackend, "")
	if _, err := Open(Options{Backend: "vault", FileDir: dir}); err == nil {
		t.Error("unknown backend accepted")
	}
	if err := s.Set("", "x"); err == nil {
		t.Error("empty account accepted")
	}
}

func assertNoSecretOnDisk(t *testing.T, dir, secret string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("%s still contains a deleted secret", e.Name())
		}
	}
}
