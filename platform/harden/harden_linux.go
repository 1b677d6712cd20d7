//go:build linux

package harden

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

func process() error {
	var errs []error
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		errs = append(errs, fmt.Errorf("harden: prctl(PR_SET_DUMPABLE, 0): %w", err))
	}
	if err := disableCoreDumps(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
