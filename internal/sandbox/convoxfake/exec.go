package convoxfake

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Exec into a process: a tiny fake shell behind the Convox exec
// framing. It knows echo, exit, cat, env, sleep, true, false, pwd,
// hostname, `sh -c "…"` / `bash -c "…"` and an interactive sh/bash that
// runs one command per stdin line.

// Entrypoint is the entrypoint of every image the rack runs. An exec with
// the Entrypoint header true runs its command through it, and it exports
// CONVOX_ENTRYPOINT (its own path) for the command, so `env` shows whether
// it ran.
const Entrypoint = "/app/bin/entrypoint"

// exec is the /apps/{app}/processes/{pid}/exec stream (headers
// Command, Entrypoint, Height, Width, Tty). After the output comes the exit-code
// marker and a normal close. The marker is split over two messages for
// exit code 3 and for every 4th exec, and every 4th exec starting with the
// 2nd carries its last output chunk in the marker's message, because
// clients must cope with both.
func (rk *Rack) exec(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	rk.mu.Lock()
	if rk.appOr404(w, vars["app"]) == nil {
		rk.mu.Unlock()
		return
	}
	proc := rk.processOr404(w, vars["app"], vars["pid"])
	if proc == nil {
		rk.mu.Unlock()
		return
	}
	env := map[string]string{}
	if rel := rk.releaseLocked(proc.App, proc.Release); rel != nil {
		env = ParseEnv(rel.Env)
	}
	for k, v := range proc.env {
		env[k] = v
	}
	env["APP"], env["SERVICE"], env["RELEASE"], env["RACK"], env["HOSTNAME"] = proc.App, proc.Name, proc.Release, Name, proc.ID
	if strings.EqualFold(r.Header.Get("Entrypoint"), "true") {
		env["CONVOX_ENTRYPOINT"] = Entrypoint
	}
	rk.execCount++
	n := rk.execCount
	drop := rk.takeDropLocked()
	rk.mu.Unlock()

	conn, err := rk.upgrade(w, r)
	if err != nil {
		return
	}
	defer conn.Close()
	st := &wsStream{conn: conn, drop: drop, tty: strings.EqualFold(r.Header.Get("Tty"), "true"), in: startReader(conn)}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-st.in.gone:
			cancel()
		case <-ctx.Done():
		}
	}()

	command := r.Header.Get("Command")
	// Holding output back for the marker's message would let a dropped
	// stream deliver its marker, so a dropped stream never holds.
	holdLast := n%4 == 2 && !drop && !strings.Contains(command, "cat") && !isInteractiveShell(command)
	var pending string
	var werr error
	emit := func(text string) {
		if werr != nil || text == "" {
			return
		}
		if holdLast {
			if pending != "" {
				werr = st.output(pending)
			}
			pending = text
			return
		}
		werr = st.output(text)
	}
	sh := &fakeShell{ctx: ctx, env: env, stdin: st.in.stdin, out: emit, sleep: rk.cfg.Sleep, tty: st.tty}
	code := sh.run(command)
	rk.endOneOff(proc)
	if werr != nil {
		return
	}
	if st.drop {
		st.cut() // DropNextWebSocket's promise: never a marker or a close frame
		return
	}
	marker := ExecMarker + strconv.Itoa(code)
	if pending != "" {
		if st.tty {
			pending = strings.ReplaceAll(pending, "\n", "\r\n")
		}
		marker = pending + marker
	}
	var parts []string
	if code == 3 || n%4 == 0 {
		cut := len(marker) - len(ExecMarker)/2 - len(strconv.Itoa(code))
		parts = []string{marker[:cut], marker[cut:]}
	} else {
		parts = []string{marker}
	}
	for _, part := range parts {
		if st.send(part) != nil {
			return
		}
	}
	st.closeNormal()
}

func isInteractiveShell(command string) bool {
	f := strings.Fields(command)
	return len(f) == 1 && (f[0] == "sh" || f[0] == "bash" || f[0] == "/bin/sh" || f[0] == "/bin/bash")
}

// fakeShell runs one command line.
type fakeShell struct {
	ctx   context.Context
	env   map[string]string
	stdin <-chan []byte
	out   func(string)
	sleep func(context.Context, time.Duration)
	tty   bool
}

func (sh *fakeShell) run(command string) int {
	args := splitCommand(command)
	if len(args) >= 3 && isInteractiveShell(args[0]) && args[1] == "-c" {
		args = splitCommand(strings.Join(args[2:], " "))
	}
	if len(args) == 0 {
		return 0
	}
	switch verb := args[0]; verb {
	case "echo":
		rest, newline := args[1:], "\n"
		if len(rest) > 0 && rest[0] == "-n" {
			rest, newline = rest[1:], ""
		}
		sh.out(strings.Join(rest, " ") + newline)
		return 0
	case "exit":
		if len(args) == 1 {
			return 0
		}
		code, err := strconv.Atoi(args[1])
		if err != nil || code < 0 {
			sh.out("sh: 1: exit: Illegal number: " + args[1] + "\n")
			return 2
		}
		return code & 0xff
	case "cat":
		if len(args) > 1 {
			sh.out("cat: " + args[1] + ": No such file or directory\n")
			return 1
		}
		for {
			select {
			case data, ok := <-sh.stdin:
				if !ok {
					return 0
				}
				sh.out(string(data))
			case <-sh.ctx.Done():
				return 130
			}
		}
	case "env", "printenv":
		sh.out(strings.Join(sortedEnvLines(sh.env), "\n") + "\n")
		return 0
	case "sleep":
		secs, err := strconv.ParseFloat(argAt(args, 1), 64)
		if err != nil || secs < 0 {
			sh.out("sleep: invalid time interval '" + argAt(args, 1) + "'\n")
			return 1
		}
		sh.sleep(sh.ctx, time.Duration(secs*float64(time.Second)))
		if sh.ctx.Err() != nil {
			return 130
		}
		return 0
	case "true":
		return 0
	case "false":
		return 1
	case "pwd":
		sh.out("/app\n")
		return 0
	case "hostname":
		sh.out(sh.env["HOSTNAME"] + "\n")
		return 0
	default:
		if isInteractiveShell(verb) && len(args) == 1 {
			return sh.interactive()
		}
		sh.out("sh: 1: " + verb + ": not found\n")
		return 127
	}
}

// interactive runs each stdin line as a command until exit or EOF; the
// prompt is only shown on a tty, like a real sh.
func (sh *fakeShell) interactive() int {
	code := 0
	prompt := func() {
		if sh.tty {
			sh.out("$ ")
		}
	}
	prompt()
	var buf string
	for {
		select {
		case data, ok := <-sh.stdin:
			if !ok {
				return code
			}
			buf += string(data)
			for {
				line, rest, found := strings.Cut(buf, "\n")
				if !found {
					break
				}
				buf = rest
				line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
				if args := splitCommand(line); len(args) > 0 && args[0] == "exit" {
					return sh.run(line)
				}
				code = sh.run(line)
				prompt()
			}
		case <-sh.ctx.Done():
			return 130
		}
	}
}

func argAt(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

// splitCommand splits a command line on blanks, honouring single and
// double quotes (no escapes, variables or operators: a fake shell).
func splitCommand(line string) []string {
	var args []string
	var cur strings.Builder
	inArg := false
	var quote rune
	for _, c := range line {
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(c)
		case c == '\'' || c == '"':
			quote, inArg = c, true
		case c == ' ' || c == '\t':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(c)
			inArg = true
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args
}

// sortedEnvLines renders env as sorted KEY=VALUE lines (the fake `env`).
func sortedEnvLines(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, fmt.Sprintf("%s=%s", k, v))
	}
	sort.Strings(out)
	return out
}

// EndOneOffsOnExit makes a one-off process go away by itself once its
// command ends, as a rack's does, so the client's stop finds none.
func (rk *Rack) EndOneOffsOnExit() {
	rk.mu.Lock()
	rk.oneOffsEnd = true
	rk.mu.Unlock()
}

// endOneOff removes p when it is a one-off and EndOneOffsOnExit is set.
func (rk *Rack) endOneOff(p *rackProcess) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	if rk.oneOffsEnd && p.oneOff {
		rk.processes = filterSlice(rk.processes, func(q *rackProcess) bool { return q != p })
	}
}
