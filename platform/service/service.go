// Package service installs and controls rack-gateway-agent as a per-user OS
// service: a systemd user unit on Linux, a LaunchAgent on macOS. Windows has
// no per-user service; the agent starts on demand there.
//
// Installing, starting and stopping go through github.com/kardianos/service,
// with our own unit and plist: its built-in systemd unit is a system service
// (WantedBy=multi-user.target, which never starts at a user's login) with no
// hardening. This file renders those definitions and reads them back; it
// has no kardianos code, so the templates are tested on every OS.
//
// Only the agent links this package. The thin CLI decides whether the
// service is installed from the file's existence alone (paths.ServiceFile).
package service

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/rack-gateway/rack-gateway/platform/paths"
)

// Description is the unit's one-line description (the packaged unit's).
const Description = "rack-gateway agent (sessions and MFA for Convox racks)"

// Options are what the service definition is rendered from. FromEnvironment
// fills them for the current user.
type Options struct {
	// Executable is the absolute path of rack-gateway-agent.
	Executable string
	// StateHome is $XDG_STATE_HOME when it is set to an absolute path: the
	// service manager does not pass the shell's value on, so the unit sets
	// it. "" means the platform default.
	StateHome string
	// ConfigDirs are config directories besides ~/.config/rack-gateway the
	// agent must be able to write ($GATEWAY_CLI_CONFIG_DIR at install time).
	ConfigDirs []string
	// LogPath is the agent log, which receives the LaunchAgent's stdout and
	// stderr on macOS.
	LogPath string
}

// checkPath refuses what cannot be written safely into a unit or plist: a
// relative path, control characters (a newline would start a new
// directive), and "{{", which kardianos's template engine would read as a
// placeholder.
func checkPath(what, p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("service: %s %q is not an absolute path", what, p)
	}
	if strings.Contains(p, "{{") || strings.ContainsAny(p, "\x00\r\n\t") {
		return fmt.Errorf("service: %s %q contains characters a service definition cannot hold", what, p)
	}
	return nil
}

func (o Options) check() error {
	if err := checkPath("executable", o.Executable); err != nil {
		return err
	}
	if o.StateHome != "" {
		if err := checkPath("XDG_STATE_HOME", o.StateHome); err != nil {
			return err
		}
	}
	for _, d := range o.ConfigDirs {
		if err := checkPath("config directory", d); err != nil {
			return err
		}
	}
	return nil
}

// systemdWord writes one word of a unit setting: percent signs doubled
// (systemd specifiers), and double quotes with backslash escapes when the
// word has anything but plain path characters. dollar marks whether "$"
// must be doubled too (it starts a variable in an Exec* argument).
func systemdWord(s string, dollar bool) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if dollar {
		s = strings.ReplaceAll(s, "$", "$$")
	}
	plain := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._+-,:@=%$", c)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// SystemdUnit renders the systemd user unit. It runs `rack-gateway-agent
// run` at login (default.target), restarts it when it fails, and confines
// it: no new privileges, only Unix and IP sockets, no writable-executable
// memory (neither Go nor libfido2 needs it), a 0077 umask, and a read-only
// file system except the agent's state, config and runtime directories.
//
// Its [Service] and [Install] directives are the packaged unit's
// (packaging/systemd/rack-gateway-agent.service) but for ExecStart; a test
// keeps the two the same.
func SystemdUnit(o Options) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	state := "%h/.local/state/" + paths.AppName
	if o.StateHome != "" {
		state = filepath.Join(o.StateHome, paths.AppName)
	}
	dirs := append([]string{state, "%h/.config/" + paths.AppName, "%t/" + paths.AppName}, o.ConfigDirs...)
	var mkdir, rw []string
	for _, d := range dirs {
		if strings.HasPrefix(d, "%") {
			// A specifier, not a literal path: nothing to escape.
			mkdir, rw = append(mkdir, d), append(rw, "-"+d)
			continue
		}
		mkdir, rw = append(mkdir, systemdWord(d, true)), append(rw, systemdWord("-"+d, false))
	}
	var b strings.Builder
	b.WriteString("# Written by 'rack-gateway agent install'; 'rack-gateway agent uninstall' removes it.\n")
	b.WriteString("[Unit]\n")
	b.WriteString("Description=" + Description + "\n")
	b.WriteString("\n[Service]\n")
	b.WriteString("Type=simple\n")
	// systemd expands $VARIABLES in the arguments of ExecStart, not in the
	// program's path.
	b.WriteString("ExecStart=" + systemdWord(o.Executable, false) + " run\n")
	if o.StateHome != "" {
		// The user manager does not have the shell's XDG_STATE_HOME.
		b.WriteString("Environment=" + systemdWord("XDG_STATE_HOME="+o.StateHome, false) + "\n")
	}
	b.WriteString("Restart=on-failure\n")
	b.WriteString("RestartSec=2\n")
	// Exit 6: another agent (started on demand) owns the socket and
	// serves; restarting in a burst would only end the unit "failed".
	b.WriteString("SuccessExitStatus=6\n")
	b.WriteString("UMask=0077\n")
	b.WriteString("NoNewPrivileges=yes\n")
	b.WriteString("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n")
	b.WriteString("LockPersonality=yes\n")
	b.WriteString("MemoryDenyWriteExecute=yes\n")
	// ProtectSystem=strict leaves only ReadWritePaths writable, and a
	// missing one can be neither used nor created inside the sandbox: make
	// them first, outside it ("+"); "-" keeps a path that is still missing
	// from failing the start.
	b.WriteString("ProtectSystem=strict\n")
	b.WriteString("ExecStartPre=+/bin/mkdir -p -m 0700 " + strings.Join(mkdir, " ") + "\n")
	b.WriteString("ReadWritePaths=" + strings.Join(rw, " ") + "\n")
	b.WriteString("\n[Install]\n")
	b.WriteString("WantedBy=default.target\n")
	return b.String(), nil
}

// Directive is one Key=Value line of a unit, under its section.
type Directive struct {
	Section, Key, Value string
}

// String renders d as "[Section] Key=Value", for comparisons and messages.
func (d Directive) String() string { return "[" + d.Section + "] " + d.Key + "=" + d.Value }

// ParseUnit reads the directives of a systemd unit, in order. Comments and
// blank lines are skipped; continuation lines are not supported (our units
// have none).
func ParseUnit(text string) ([]Directive, error) {
	var out []Directive
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "", strings.HasPrefix(line, "#"), strings.HasPrefix(line, ";"):
			continue
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			return nil, fmt.Errorf("service: unit line %d is not Key=Value in a section: %q", n, line)
		}
		out = append(out, Directive{Section: section, Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
	}
	return out, sc.Err()
}

// unitExecutable returns the program a unit's ExecStart runs.
func unitExecutable(text string) string {
	ds, err := ParseUnit(text)
	if err != nil {
		return ""
	}
	for _, d := range ds {
		if d.Section == "Service" && d.Key == "ExecStart" {
			unescape := strings.NewReplacer("%%", "%", `\"`, `"`, `\\`, `\`).Replace
			v := strings.TrimLeft(d.Value, "@-:+!")
			if strings.HasPrefix(v, `"`) {
				for i := 1; i < len(v); i++ {
					switch v[i] {
					case '\\':
						i++
					case '"':
						return unescape(v[1:i])
					}
				}
			}
			w, _, _ := strings.Cut(v, " ")
			return unescape(w)
		}
	}
	return ""
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// LaunchdPlist renders the LaunchAgent: launchd runs `rack-gateway-agent
// run` at login (RunAtLoad) and again whenever it exits with a failure
// (KeepAlive/SuccessfulExit false: `agent stop` is a clean exit and stays
// stopped), with a 0077 umask and its output in the agent log.
func LaunchdPlist(o Options) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	if err := checkPath("log path", o.LogPath); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by 'rack-gateway agent install'; 'rack-gateway agent uninstall' removes it. -->
<plist version="1.0">
<dict>
`)
	str := func(k, v string) { fmt.Fprintf(&b, "\t<key>%s</key>\n\t<string>%s</string>\n", k, xmlText(v)) }
	str("Label", paths.ServiceLabel)
	b.WriteString("\t<key>ProgramArguments</key>\n\t<array>\n")
	for _, a := range []string{o.Executable, "run"} {
		fmt.Fprintf(&b, "\t\t<string>%s</string>\n", xmlText(a))
	}
	b.WriteString("\t</array>\n")
	b.WriteString("\t<key>RunAtLoad</key>\n\t<true/>\n")
	b.WriteString("\t<key>KeepAlive</key>\n\t<dict>\n\t\t<key>SuccessfulExit</key>\n\t\t<false/>\n\t</dict>\n")
	b.WriteString("\t<key>ProcessType</key>\n\t<string>Interactive</string>\n")
	b.WriteString("\t<key>Umask</key>\n\t<integer>63</integer>\n") // 0077
	str("StandardOutPath", o.LogPath)
	str("StandardErrorPath", o.LogPath)
	if o.StateHome != "" {
		b.WriteString("\t<key>EnvironmentVariables</key>\n\t<dict>\n")
		fmt.Fprintf(&b, "\t\t<key>XDG_STATE_HOME</key>\n\t\t<string>%s</string>\n", xmlText(o.StateHome))
		b.WriteString("\t</dict>\n")
	}
	b.WriteString("</dict>\n</plist>\n")
	return b.String(), nil
}

// plistExecutable returns ProgramArguments[0] of a LaunchAgent plist.
func plistExecutable(text string) string {
	d := xml.NewDecoder(strings.NewReader(text))
	inArgs := false
	lastKey := ""
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		var s string
		switch se.Name.Local {
		case "key":
			if d.DecodeElement(&s, &se) == nil {
				lastKey = s
			}
		case "array":
			inArgs = lastKey == "ProgramArguments"
		case "string":
			if d.DecodeElement(&s, &se) == nil && inArgs {
				return s
			}
		}
	}
}

// ErrUnsupported is returned by New where there is no per-user service
// (Windows and the BSDs): the agent starts on demand there.
var ErrUnsupported = errors.New("this OS has no per-user service for rack-gateway-agent; it starts on demand whenever you run rack-gateway")

// Status is what `agent status` reports about the service.
type Status struct {
	// Kind names the mechanism: "systemd user unit" or "launchd LaunchAgent".
	Kind string
	// File is the unit or plist path.
	File string
	// Installed is true when File exists (or, on Linux, the unit is enabled
	// from a package's copy in /usr/lib/systemd/user).
	Installed bool
	// Running is true when the service manager says the service is up.
	Running bool
	// MainPID is the service's main process when running and known, else 0.
	MainPID int
	// Executable is the program the service runs, read from its definition.
	Executable string
	// Err says why the service manager could not be asked, if it could not.
	Err error
}
