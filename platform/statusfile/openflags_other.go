//go:build !unix

package statusfile

// openFlags is empty where no FIFO can sit in the filesystem to block on.
const openFlags = 0
