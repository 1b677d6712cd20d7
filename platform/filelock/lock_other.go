//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package filelock

// Lock is a no-op where we have no portable file lock; the in-process
// mutex still serialises one process's goroutines, which is all a platform
// without file locks can offer.
func Lock(string) (unlock func(), err error) { return func() {}, nil }
