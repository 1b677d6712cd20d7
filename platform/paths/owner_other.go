//go:build !unix

package paths

import (
	"fmt"
	"io/fs"
)

// checkOwnerAndMode on Windows (and other non-Unix systems) only rejects
// reparse points other than symlinks (junctions), which Lstat reports as
// irregular: access control is by ACL, inherited privately from the user
// profile, and Go's mode bits do not reflect it.
func checkOwnerAndMode(dir string, fi fs.FileInfo) error {
	if fi.Mode()&fs.ModeIrregular != 0 {
		return fmt.Errorf("paths: %s is a reparse point (junction?); refusing to keep private files behind it", dir)
	}
	return nil
}
