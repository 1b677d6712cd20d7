// Package harden makes the agent process harder to read secrets out of.
//
// The agent holds session tokens and, optionally, a FIDO2 PIN in memory. Two
// easy ways to get them are a core dump (written on a crash, possibly to a
// world-readable place or collected by a crash reporter) and attaching a
// debugger from another process running as the same user. Process closes
// both where the OS lets an unprivileged process do so. It does not stop
// root, or a user who runs the agent under a debugger on purpose.
package harden

// Process applies the hardening for the current OS. Call it first thing in
// the agent's main, before any secret is loaded, and treat an error as worth
// logging but not fatal: the agent is still usable, just less protected.
//
//   - Linux: prctl(PR_SET_DUMPABLE, 0), which both stops core dumps and
//     forbids ptrace attach by same-uid processes (and makes /proc/<pid>/mem
//     and environ root-only), plus RLIMIT_CORE = 0 for belt and braces.
//   - macOS: ptrace(PT_DENY_ATTACH), which refuses debugger attach (note that
//     a process already being traced exits when it asks), plus RLIMIT_CORE = 0.
//   - Other Unix: RLIMIT_CORE = 0.
//   - Windows: nothing; a same-user process can always open the agent with
//     PROCESS_VM_READ unless its DACL is changed, which is left for later.
func Process() error {
	return process()
}
