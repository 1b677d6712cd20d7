//go:build !unix

package harden

// process is a no-op on Windows (see Process) and other non-Unix systems.
func process() error { return nil }
