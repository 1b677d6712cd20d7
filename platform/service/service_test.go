package service

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// directives maps "[Section] Key" to its values in order.
func directives(t *testing.T, unit string) map[string][]string {
	t.Helper()
	ds, err := ParseUnit(unit)
	if err != nil {
		t.Fatalf("%v\n%s", err, unit)
	}
	m := map[string][]string{}
	for _, d := range ds {
		k := "[" + d.Section + "] " + d.Key
		m[k] = append(m[k], d.Value)
	}
	return m
}

func TestSystemdUnitDirectives(t *testing.T) {
	t.Parallel()
	unit, err := SystemdUnit(Options{Executable: "/usr/bin/rack-gateway-agent"})
	if err != nil {
		t.Fatal(err)
	}
	got := directives(t, unit)
	want := map[string]string{
		"[Install] WantedBy":                "default.target",
		"[Service] ExecStart":               "/usr/bin/rack-gateway-agent run",
		"[Service] Restart":                 "on-failure",
		"[Service] UMask":                   "0077",
		"[Service] NoNewPrivileges":         "yes",
		"[Service] RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
		"[Service] LockPersonality":         "yes",
		"[Service] MemoryDenyWriteExecute":  "yes",
		"[Service] ProtectSystem":           "strict",
		"[Service] ExecStartPre":            "+/bin/mkdir -p -m 0700 %h/.local/state/rack-gateway %h/.config/rack-gateway %t/rack-gateway",
		"[Service] ReadWritePaths":          "-%h/.local/state/rack-gateway -%h/.config/rack-gateway -%t/rack-gateway",
		"[Service] Type":                    "simple",
		"[Unit] Description":                Description,
	}
	for k, v := range want {
		if vs := got[k]; len(vs) != 1 || vs[0] != v {
			t.Errorf("%s = %q, want %q", k, vs, v)
		}
	}
	if vs := got["[Service] Environment"]; len(vs) > 0 {
		t.Errorf("Environment = %q without XDG_STATE_HOME", vs)
	}
	if exe := unitExecutable(unit); exe != "/usr/bin/rack-gateway-agent" {
		t.Errorf("unitExecutable = %q", exe)
	}
}

// Paths with spaces, percent and dollar signs, and an XDG_STATE_HOME, come
// out quoted and escaped the way systemd reads them back.
func TestSystemdUnitQuoting(t *testing.T) {
	t.Parallel()
	o := Options{
		Executable: "/opt/my apps/100%/$HOME/rack-gateway-agent",
		StateHome:  "/srv/state dir",
		ConfigDirs: []string{"/srv/rg config"},
	}
	unit, err := SystemdUnit(o)
	if err != nil {
		t.Fatal(err)
	}
	got := directives(t, unit)
	for k, v := range map[string]string{
		"[Service] ExecStart":      `"/opt/my apps/100%%/$HOME/rack-gateway-agent" run`,
		"[Service] Environment":    `"XDG_STATE_HOME=/srv/state dir"`,
		"[Service] ReadWritePaths": `"-/srv/state dir/rack-gateway" -%h/.config/rack-gateway -%t/rack-gateway "-/srv/rg config"`,
		"[Service] ExecStartPre":   `+/bin/mkdir -p -m 0700 "/srv/state dir/rack-gateway" %h/.config/rack-gateway %t/rack-gateway "/srv/rg config"`,
	} {
		if vs := got[k]; len(vs) != 1 || vs[0] != v {
			t.Errorf("%s = %q, want %q", k, vs, v)
		}
	}
	if exe := unitExecutable(unit); exe != o.Executable {
		t.Errorf("unitExecutable = %q, want %q", exe, o.Executable)
	}
	verifyWithSystemd(t, o)
}

func TestDefinitionsRefuseUnsafePaths(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{Executable: "bin/rack-gateway-agent"},
		{Executable: "/usr/bin/rack-gateway-agent\nExecStartPre=/bin/evil"},
		{Executable: "/usr/bin/{{Path}}"},
		{Executable: "/usr/bin/rack-gateway-agent", StateHome: "relative/state"},
		{Executable: "/usr/bin/rack-gateway-agent", ConfigDirs: []string{"/a\nb"}},
	} {
		if _, err := SystemdUnit(o); err == nil {
			t.Errorf("SystemdUnit(%+v) accepted it", o)
		}
		o.LogPath = "/tmp/agent.log"
		if _, err := LaunchdPlist(o); err == nil {
			t.Errorf("LaunchdPlist(%+v) accepted it", o)
		}
	}
}

// verifyWithSystemd renders o's unit and runs systemd-analyze verify on it,
// where systemd is installed. verify checks that ExecStart's program
// exists, so o.Executable is recreated under a temporary directory.
func verifyWithSystemd(t *testing.T, o Options) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed (Debian package systemd): the unit was not verified by systemd")
		return
	}
	dir := t.TempDir()
	o.Executable = filepath.Join(dir, o.Executable)
	if err := os.MkdirAll(filepath.Dir(o.Executable), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(o.Executable, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit, err := SystemdUnit(o)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rack-gateway-agent.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	rt := filepath.Join(dir, "run")
	if err := os.Mkdir(rt, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sa, "--user", "verify", path)
	// --user needs a runtime directory to resolve %t; no manager runs.
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt, "HOME="+dir)
	out, err := cmd.CombinedOutput()
	// verify exits 0 on unknown keys and bad values, and only warns.
	if err != nil || bytes.Contains(out, []byte("rack-gateway-agent.service")) {
		t.Errorf("systemd-analyze --user verify: %v\n%s\n--- unit\n%s", err, out, unit)
	}
}

func TestSystemdAnalyzeVerifiesTheUnit(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd); the unit's directives are still checked by TestSystemdUnitDirectives")
	}
	verifyWithSystemd(t, Options{Executable: "/usr/bin/rack-gateway-agent", StateHome: "/srv/state"})
}

// The package's unit (packaging/systemd, ExecStart=/usr/bin/rack-gateway-agent
// run) must confine and start the agent exactly as the unit `agent install`
// writes: the same [Service] and [Install] directives, ExecStart aside. The
// [Unit] section is description only (the package's points at its man
// pages, which a `go install` does not have).
func TestPackagedUnitMatchesTemplate(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "..", "packaging", "systemd", "rack-gateway-agent.service")
	pkg, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("no packaged unit at packaging/systemd/rack-gateway-agent.service yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	want, err := SystemdUnit(Options{Executable: "/usr/bin/rack-gateway-agent"})
	if err != nil {
		t.Fatal(err)
	}
	set := func(text string) ([]string, string) {
		ds, err := ParseUnit(text)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var out []string
		exec := ""
		for _, d := range ds {
			switch {
			case d.Section == "Service" && d.Key == "ExecStart":
				exec = d.Value
			case d.Section == "Service" || d.Section == "Install":
				out = append(out, d.String())
			}
		}
		sort.Strings(out)
		return out, exec
	}
	got, gotExec := set(string(pkg))
	exp, _ := set(want)
	if strings.Join(got, "\n") != strings.Join(exp, "\n") {
		t.Errorf("%s: its [Service] and [Install] directives differ from the unit 'agent install' writes (ExecStart aside).\n--- packaged\n%s\n--- template\n%s\n--- the template rendered for /usr/bin\n%s",
			path, strings.Join(got, "\n"), strings.Join(exp, "\n"), want)
	}
	if gotExec != "/usr/bin/rack-gateway-agent run" {
		t.Errorf("%s: ExecStart=%s, want /usr/bin/rack-gateway-agent run", path, gotExec)
	}
}

// plistValue is a parsed property-list value: string, bool, int (as its
// text), []plistValue or map[string]plistValue.
type plistValue any

// readPlist parses an XML property list: a small reader for the subset
// launchd uses (dict, array, string, integer, true, false).
func readPlist(t *testing.T, text string) map[string]plistValue {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(text))
	d.Strict = true
	var parse func(se xml.StartElement) plistValue
	parse = func(se xml.StartElement) plistValue {
		switch se.Name.Local {
		case "string", "integer", "key":
			var s string
			if err := d.DecodeElement(&s, &se); err != nil {
				t.Fatal(err)
			}
			return s
		case "true", "false":
			if err := d.Skip(); err != nil {
				t.Fatal(err)
			}
			return se.Name.Local == "true"
		case "array", "dict", "plist":
			var items []plistValue
			for {
				tok, err := d.Token()
				if err != nil {
					t.Fatalf("plist: %v", err)
				}
				if _, ok := tok.(xml.EndElement); ok {
					break
				}
				if c, ok := tok.(xml.StartElement); ok {
					items = append(items, parse(c))
				}
			}
			switch se.Name.Local {
			case "plist":
				if len(items) != 1 {
					t.Fatalf("plist holds %d values", len(items))
				}
				return items[0]
			case "array":
				return items
			}
			m := map[string]plistValue{}
			if len(items)%2 != 0 {
				t.Fatal("dict with a key and no value")
			}
			for i := 0; i < len(items); i += 2 {
				m[items[i].(string)] = items[i+1]
			}
			return m
		}
		t.Fatalf("plist: unexpected <%s>", se.Name.Local)
		return nil
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			t.Fatal("no <plist>")
		}
		if err != nil {
			t.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			top, ok := parse(se).(map[string]plistValue)
			if !ok {
				t.Fatal("the plist's top value is not a dict")
			}
			return top
		}
	}
}

func TestLaunchdPlistKeys(t *testing.T) {
	t.Parallel()
	exe := "/Applications/R&D tools/rack-gateway-agent"
	text, err := LaunchdPlist(Options{Executable: exe, LogPath: "/Users/me/Library/Logs/rack-gateway/agent.log", StateHome: "/Users/me/.state"})
	if err != nil {
		t.Fatal(err)
	}
	p := readPlist(t, text)
	check := func(key string, want plistValue) {
		t.Helper()
		if got := fmt.Sprint(p[key]); got != fmt.Sprint(want) {
			t.Errorf("%s = %s, want %s", key, got, fmt.Sprint(want))
		}
	}
	check("Label", "com.github.rack-gateway.agent")
	check("ProgramArguments", []plistValue{exe, "run"})
	check("RunAtLoad", true)
	check("KeepAlive", map[string]plistValue{"SuccessfulExit": false})
	check("StandardOutPath", "/Users/me/Library/Logs/rack-gateway/agent.log")
	check("StandardErrorPath", "/Users/me/Library/Logs/rack-gateway/agent.log")
	check("Umask", "63")
	check("ProcessType", "Interactive")
	check("EnvironmentVariables", map[string]plistValue{"XDG_STATE_HOME": "/Users/me/.state"})
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if got := strings.Join(keys, " "); got != "EnvironmentVariables KeepAlive Label ProcessType ProgramArguments RunAtLoad StandardErrorPath StandardOutPath Umask" {
		t.Errorf("keys: %s", got)
	}
	if got := plistExecutable(text); got != exe {
		t.Errorf("plistExecutable = %q", got)
	}
	if plain, _ := LaunchdPlist(Options{Executable: "/usr/local/bin/rack-gateway-agent", LogPath: "/tmp/a.log"}); strings.Contains(plain, "EnvironmentVariables") {
		t.Error("EnvironmentVariables without XDG_STATE_HOME")
	}
}
