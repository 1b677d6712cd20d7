// Package filelock takes exclusive advisory locks on lock files, so that
// several processes of one user (the agent, one starting while another
// stops, short-lived --no-agent runs) can read-modify-write a shared file
// without losing each other's changes. The lock lives in a separate file
// because the files it protects are replaced by rename, which would leave a
// lock on the old inode behind.
package filelock
