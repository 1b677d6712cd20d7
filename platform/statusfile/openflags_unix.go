//go:build unix

package statusfile

import "syscall"

// openFlags makes Read's open return at once even if a FIFO with no writer
// sits at the path (Read then refuses it); a plain open would block the
// prompt until something wrote to the FIFO. O_NONBLOCK has no effect on
// regular files.
const openFlags = syscall.O_NONBLOCK
