// Package cli is the thin rack-gateway command: it finds or starts the
// agent, forwards the invocation over the agent's socket, relays the
// terminal, answers the agent's prompts and performs local actions. It
// never holds a token and never talks to the gateway.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/buildinfo"
	"github.com/rack-gateway/rack-gateway/internal/grammar"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/platform/tty"
)

// Streams are the process's standard streams, injected so tests and
// embedders never depend on the real os.Stdout.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
	// InFile, OutFile and ErrFile are the same streams as files when they
	// are (for terminal detection, raw mode and sizes); nil otherwise.
	InFile, OutFile, ErrFile *os.File
}

// OSStreams returns the process's real standard streams.
func OSStreams() Streams {
	return Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, InFile: os.Stdin, OutFile: os.Stdout, ErrFile: os.Stderr}
}

// Main runs the CLI and returns the process exit status. It is the one
// place where an outcome becomes an exit status (via ipc.ExitStatus).
func Main(args []string, s Streams) int {
	if isCompleteCommand(args) {
		// A shell's <TAB>: its words are a half-typed command line, so
		// nothing (not even --version) may be read into them.
		return runComplete(args, s)
	}
	args = grammar.VersionArgs(args)
	if isPromptCommand(args) {
		// Shell prompts run this on every Enter: it only reads the status
		// file, so it must come before anything that could reach the agent.
		return runPrompt(args, s)
	}
	if mode := execMode(args, os.Getenv("RACK_GATEWAY_API_TOKEN")); mode != "" || isServiceCommand(args) {
		// API tokens and --no-agent never touch the daemon or the keyring:
		// the same command code runs in-process in the agent binary. So do
		// the commands that install, start or restart the daemon itself.
		status, err := execAgent(args)
		if err != nil {
			return report(s.Err, ipc.AsError(err))
		}
		return status
	}
	status, err := relay(context.Background(), args, s)
	if err != nil {
		return report(s.Err, ipc.AsError(err))
	}
	return status
}

func report(w io.Writer, e *ipc.Error) int {
	if e == nil {
		return 0
	}
	fmt.Fprint(w, e.Render())
	return ipc.ExitStatus(e.Code)
}

// execMode reports why the command must run in-process ("" when it goes to
// the agent). It scans like the agent's parser: flags up to "--".
func execMode(args []string, envToken string) string {
	for _, a := range args {
		switch {
		case a == "--":
			return modeFromEnv(envToken)
		case a == "--no-agent" || a == "--no-agent=true":
			return "no-agent"
		case a == "--api-token" || strings.HasPrefix(a, "--api-token="):
			return "api-token"
		}
	}
	return modeFromEnv(envToken)
}

func modeFromEnv(tok string) string {
	if strings.TrimSpace(tok) != "" {
		return "api-token"
	}
	return ""
}

// invocation describes this process to the agent.
// exact says whether the agent reads argv_b64 (ipc.CapArgvBytes).
func invocation(args []string, s Streams, exact bool) *ipc.Invocation {
	cwd, _ := os.Getwd()
	inv := &ipc.Invocation{
		Cwd: cwd, Env: ipc.ForwardedEnv(os.Environ()),
		PID: os.Getpid(), Version: buildinfo.Version, TTYName: tty.Name(),
	}
	inv.SetArgv(args, exact)
	isTTY := func(f *os.File) bool { return f != nil && tty.IsTerminal(f) }
	inv.TTY = ipc.TTYState{Stdin: isTTY(s.InFile), Stdout: isTTY(s.OutFile), Stderr: isTTY(s.ErrFile)}
	inv.CanPrompt = inv.TTY.Stdin && os.Getenv("RACK_GATEWAY_NONINTERACTIVE") != "1"
	if f := firstTTY(s); f != nil {
		if c, r, ok := tty.Size(f); ok {
			inv.Size = &ipc.WinSize{Cols: c, Rows: r}
		}
	}
	// The agent's default config dir must be the caller's, not whatever
	// the agent inherited when it started.
	if _, ok := inv.Env["GATEWAY_CLI_CONFIG_DIR"]; !ok {
		if home, err := os.UserHomeDir(); err == nil {
			inv.Env["HOME"] = home
		}
	}
	return inv
}

func firstTTY(s Streams) *os.File {
	for _, f := range []*os.File{s.OutFile, s.ErrFile, s.InFile} {
		if f != nil && tty.IsTerminal(f) {
			return f
		}
	}
	return nil
}

// commandWords returns up to n leading command words of args, wherever
// flags stand among them (internal/grammar): the command name, for the few
// decisions the CLI makes before asking the agent.
func commandWords(args []string, n int) []string { return grammar.FirstWords(args, n) }
