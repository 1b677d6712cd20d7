//go:build unix

package harden

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// disableCoreDumps sets both the soft and the hard RLIMIT_CORE to zero.
// Lowering the hard limit too means nothing later in the process (or a child
// it starts) can raise the limit again.
func disableCoreDumps() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("harden: setrlimit(RLIMIT_CORE, 0): %w", err)
	}
	return nil
}
