package secrets

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/rack-gateway/rack-gateway/platform/filelock"
	"github.com/rack-gateway/rack-gateway/platform/paths"
)

// fileFormatVersion lets a later release change the layout and still read
// files written by this one.
const fileFormatVersion = 1

// fileData is the on-disk layout of credentials.json.
type fileData struct {
	Version int               `json:"version"`
	Secrets map[string]string `json:"secrets"`
}

// fileStore keeps secrets in one JSON file, mode 0600, in a 0700 directory.
// Nothing is cached in memory: each call reads the file, so secrets live in
// the process only while a call needs them, and a second process editing the
// file (an old agent still shutting down) is never overwritten with stale
// data. Writers hold mu (goroutines) and an OS file lock (processes).
type fileStore struct {
	mu   sync.Mutex
	dir  string
	path string
	why  string
}

func newFileStore(dir, why string) (*fileStore, error) {
	if err := paths.EnsurePrivateDir(dir); err != nil {
		return nil, fmt.Errorf("secrets: file store: %w", err)
	}
	return &fileStore{dir: dir, path: filepath.Join(dir, FileName), why: why}, nil
}

func (f *fileStore) Kind() string { return BackendFile }

func (f *fileStore) Describe() string {
	return fmt.Sprintf("file %s (0600; %s)", f.path, f.why)
}

func (f *fileStore) Get(account string) (string, error) {
	if err := checkAccount(account); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.load()
	if err != nil {
		return "", err
	}
	v, ok := m[account]
	if !ok {
		return "", ErrNotFound
	}
	return v, nil
}

func (f *fileStore) Set(account, secret string) error {
	if err := checkAccount(account); err != nil {
		return err
	}
	return f.update(func(m map[string]string) bool {
		m[account] = secret
		return true
	})
}

func (f *fileStore) Delete(account string) error {
	if err := checkAccount(account); err != nil {
		return err
	}
	return f.update(func(m map[string]string) bool {
		if _, ok := m[account]; !ok {
			return false
		}
		delete(m, account)
		return true
	})
}

// update is the read-modify-write cycle. change reports whether it modified
// the map, so deleting an absent account does not rewrite the file.
func (f *fileStore) update(change func(map[string]string) bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	// Re-check the directory on every write: it may have been removed or
	// loosened since Open (a user cleaning up ~/.config, a restore).
	if err := paths.EnsurePrivateDir(f.dir); err != nil {
		return fmt.Errorf("secrets: file store: %w", err)
	}
	unlock, err := filelock.Lock(f.path + ".lock")
	if err != nil {
		return fmt.Errorf("secrets: locking %s: %w", f.path, err)
	}
	defer unlock()
	m, err := f.load()
	if err != nil {
		return err
	}
	if !change(m) {
		return nil
	}
	return f.save(m)
}

// load reads the file; a missing file is an empty store.
func (f *fileStore) load() (map[string]string, error) {
	fi, err := os.Lstat(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secrets: %s is not a regular file; refusing to read secrets from it", f.path)
	}
	// The directory is ours and 0700, so loose bits on the file can only
	// come from us or a restore from backup; tighten them rather than fail.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(f.path, 0o600); err != nil {
			return nil, fmt.Errorf("secrets: %s has mode %04o and could not be restricted: %w", f.path, fi.Mode().Perm(), err)
		}
	}
	raw, err := os.ReadFile(f.path)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	defer zero(raw)
	var d fileData
	if err := json.Unmarshal(raw, &d); err != nil {
		// Never wrap the JSON error: its text can quote file content.
		return nil, fmt.Errorf("secrets: %s is not valid JSON; fix or remove it (you will need to log in again)", f.path)
	}
	if d.Version > fileFormatVersion {
		return nil, fmt.Errorf("secrets: %s was written by a newer version (format %d)", f.path, d.Version)
	}
	if d.Secrets == nil {
		d.Secrets = map[string]string{}
	}
	return d.Secrets, nil
}

// save writes m atomically with mode 0600. An empty map removes the file, so
// that after the last logout no token file is left on disk at all.
func (f *fileStore) save(m map[string]string) error {
	if len(m) == 0 {
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("secrets: %w", err)
		}
		return nil
	}
	raw, err := json.MarshalIndent(fileData{Version: fileFormatVersion, Secrets: m}, "", "  ")
	if err != nil {
		return fmt.Errorf("secrets: encoding %s: %w", f.path, err)
	}
	defer zero(raw)
	if err := paths.WriteFileAtomic(f.path, raw, 0o600); err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	return nil
}
