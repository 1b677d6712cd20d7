//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package secrets

// lockFile is a no-op where we have no portable file lock; the in-process
// mutex still serialises the agent's own goroutines, and one agent per user
// owns the file.
func lockFile(string) (unlock func(), err error) { return func() {}, nil }
