//go:build darwin

package harden

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

func process() error {
	var errs []error
	// PT_DENY_ATTACH is the only self-protection macOS offers an unsigned
	// process: later ptrace(PT_ATTACH) calls (lldb, dtrace's pid provider)
	// fail. It is not available on iOS, where x/sys returns ENOTSUP.
	if err := unix.PtraceDenyAttach(); err != nil {
		errs = append(errs, fmt.Errorf("harden: ptrace(PT_DENY_ATTACH): %w", err))
	}
	if err := disableCoreDumps(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
