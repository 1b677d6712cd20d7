package paths

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with data so that readers see either the old
// or the new content, never a torn write, even across a crash: the data goes
// to a temporary file in the same directory (same filesystem, so the rename is
// atomic), is fsynced, gets perm, and is then renamed over path.
//
// perm is applied before the rename so the file is never visible at path with
// wider permissions, and the temporary file is created 0600 by os.CreateTemp,
// so secret content is never readable by others even briefly. The directory
// must already exist; callers holding secrets create it with EnsurePrivateDir.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return fmt.Errorf("paths: WriteFileAtomic: %q names a directory", path)
	}
	// A leading dot keeps editors and globbing tools from picking the
	// temporary file up; the random suffix keeps concurrent writers apart.
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("paths: creating temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("paths: writing %s: %w", tmp, err)
	}
	// On Windows Chmod only toggles the read-only attribute; access there is
	// governed by the directory's inherited ACL.
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("paths: setting mode of %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("paths: syncing %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("paths: closing %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("paths: replacing %s: %w", path, err)
	}
	// Make the rename itself durable. Best effort: not every platform can
	// fsync a directory (Windows cannot), and the data is already safe.
	syncDir(dir)
	return nil
}

func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
