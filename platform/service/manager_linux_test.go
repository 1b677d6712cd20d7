package service

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSystemctl stands in for systemctl: it logs each call's arguments and
// keeps the unit's enable link and active state the way systemd would.
// Actions named in $FAKE_SYSTEMCTL_FAIL fail.
const fakeSystemctl = `#!/bin/sh
d=$FAKE_SYSTEMCTL_DIR
echo "$*" >> "$d/log"
action=
for a in "$@"; do case "$a" in -*) ;; *) action=$a; break;; esac; done
case " $FAKE_SYSTEMCTL_FAIL " in *" $action "*) echo "Failed to $action: fake failure" >&2; exit 1;; esac
unit=$HOME/.config/systemd/user/rack-gateway-agent.service
link=$HOME/.config/systemd/user/default.target.wants/rack-gateway-agent.service
case "$action" in
enable) mkdir -p "$(dirname "$link")" && ln -sf "$unit" "$link" ;;
disable) rm -f "$link" ;;
start|restart) echo active > "$d/state" ;;
stop) echo inactive > "$d/state" ;;
is-active) s=$(cat "$d/state" 2>/dev/null || echo inactive); echo "$s"; [ "$s" = active ] || exit 3 ;;
list-unit-files) if [ -e "$unit" ]; then echo "rack-gateway-agent.service enabled"; fi ;;
show) echo 4242 ;;
esac
exit 0
`

// fakeHome gives the test a temporary HOME and the fake systemctl on PATH,
// and returns the fake's state directory.
func fakeHome(t *testing.T, fail string) (home, state string) {
	t.Helper()
	home, state, bin := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fakeSystemctl), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("FAKE_SYSTEMCTL_DIR", state)
	t.Setenv("FAKE_SYSTEMCTL_FAIL", fail)
	return home, state
}

func fakeLog(t *testing.T, state string) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(state, "log"))
	return string(b)
}

func unitPaths(home string) (unit, link string) {
	dir := filepath.Join(home, ".config", "systemd", "user")
	return filepath.Join(dir, "rack-gateway-agent.service"), filepath.Join(dir, "default.target.wants", "rack-gateway-agent.service")
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func TestInstallStatusUninstallWithFakeSystemctl(t *testing.T) {
	home, state := fakeHome(t, "")
	opts := Options{Executable: "/usr/bin/rack-gateway-agent"}
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	unit, link := unitPaths(home)
	if m.File() != unit {
		t.Errorf("File = %s, want %s", m.File(), unit)
	}
	if st := m.Status(); st.Installed || st.Running {
		t.Errorf("before install: %+v", st)
	}
	changed, err := m.Install()
	if err != nil || !changed {
		t.Fatalf("Install = %v, %v", changed, err)
	}
	got, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := SystemdUnit(opts)
	if string(got) != want {
		t.Errorf("unit on disk:\n%s\nwant:\n%s", got, want)
	}
	log := fakeLog(t, state)
	for _, call := range []string{"--user show-environment", "enable --user rack-gateway-agent.service", "daemon-reload --user"} {
		if !strings.Contains(log, call+"\n") {
			t.Errorf("systemctl was not called with %q:\n%s", call, log)
		}
	}

	// The same unit again: nothing to do.
	if changed, err := m.Install(); err != nil || changed {
		t.Errorf("second Install = %v, %v; want no change", changed, err)
	}
	if fakeLog(t, state) != log {
		t.Errorf("second Install ran systemctl:\n%s", strings.TrimPrefix(fakeLog(t, state), log))
	}

	st := m.Status()
	if !st.Installed || st.Running || st.Executable != "/usr/bin/rack-gateway-agent" || st.Err != nil {
		t.Errorf("installed, stopped: %+v", st)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	if st := m.Status(); !st.Running || st.MainPID != 4242 {
		t.Errorf("started: %+v", st)
	}
	if err := m.RequestStop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fakeLog(t, state), "--user stop --no-block rack-gateway-agent.service\n") {
		t.Errorf("RequestStop did not ask for a non-blocking stop:\n%s", fakeLog(t, state))
	}

	if err := m.Uninstall(); err != nil {
		t.Fatal(err)
	}
	if exists(unit) || exists(link) {
		t.Errorf("after Uninstall: unit there %v, enable link there %v", exists(unit), exists(link))
	}
	if !strings.Contains(fakeLog(t, state), "disable --user rack-gateway-agent.service\n") {
		t.Errorf("Uninstall did not disable the unit:\n%s", fakeLog(t, state))
	}
	if err := m.Uninstall(); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Uninstall twice: %v", err)
	}
}

// A failed install leaves no unit and no enable link behind, and a failed
// re-install puts the previous unit back.
func TestFailedInstallLeavesNoUnit(t *testing.T) {
	for _, fail := range []string{"show-environment", "enable", "daemon-reload"} {
		t.Run(fail, func(t *testing.T) {
			home, _ := fakeHome(t, fail)
			m, err := New(Options{Executable: "/usr/bin/rack-gateway-agent"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Install()
			if err == nil {
				t.Fatal("Install succeeded although systemctl failed")
			}
			t.Logf("error: %v", err)
			unit, link := unitPaths(home)
			if exists(unit) || exists(link) {
				t.Errorf("after a failed install: unit there %v, enable link there %v", exists(unit), exists(link))
			}
		})
	}

	t.Run("reinstall", func(t *testing.T) {
		home, _ := fakeHome(t, "")
		old, err := New(Options{Executable: "/opt/old/rack-gateway-agent"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.Install(); err != nil {
			t.Fatal(err)
		}
		unit, _ := unitPaths(home)
		before, _ := os.ReadFile(unit)
		t.Setenv("FAKE_SYSTEMCTL_FAIL", "daemon-reload")
		m, err := New(Options{Executable: "/usr/bin/rack-gateway-agent"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Install(); err == nil {
			t.Fatal("Install succeeded although systemctl failed")
		}
		after, err := os.ReadFile(unit)
		if err != nil || string(after) != string(before) {
			t.Errorf("the previous unit was not put back (%v):\n%s", err, after)
		}
	})

	t.Run("no systemctl", func(t *testing.T) {
		home, _ := fakeHome(t, "")
		t.Setenv("PATH", t.TempDir())
		m, err := New(Options{Executable: "/usr/bin/rack-gateway-agent"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Install()
		if err == nil || !strings.Contains(err.Error(), "systemctl was not found") {
			t.Errorf("Install without systemctl: %v", err)
		}
		if unit, _ := unitPaths(home); exists(unit) {
			t.Error("unit written without systemctl")
		}
	})
}

// A package's unit that the user enabled counts as installed.
func TestEnabledPackagedUnitIsInstalled(t *testing.T) {
	home, _ := fakeHome(t, "")
	pkg := filepath.Join(t.TempDir(), "rack-gateway-agent.service")
	text, _ := SystemdUnit(Options{Executable: "/usr/bin/rack-gateway-agent"})
	if err := os.WriteFile(pkg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, link := unitPaths(home)
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(pkg, link); err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st := m.Status(); !st.Installed || st.Executable != "/usr/bin/rack-gateway-agent" {
		t.Errorf("enabled package unit: %+v", st)
	}
}
