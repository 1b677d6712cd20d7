package service

import (
	"errors"
	"os"
	"regexp"
	"strconv"

	ks "github.com/kardianos/service"

	"github.com/rack-gateway/rack-gateway/platform/paths"
)

// On macOS kardianos finds the home directory with os/user, we with $HOME;
// they differ only for a user who changed HOME, and then `agent install`
// reports the path kardianos wrote to.

func (m *Manager) setup() error {
	file, err := paths.ServiceFile()
	if err != nil {
		return err
	}
	m.file, m.kind, m.optionKey = file, "launchd LaunchAgent", "LaunchdConfig"
	m.cfg = &ks.Config{Name: paths.ServiceLabel, DisplayName: paths.ServiceName}
	return nil
}

func (m *Manager) render() (string, error) { return LaunchdPlist(m.opts) }

// registered: a LaunchAgent needs no enabling; Start loads it.
func (m *Manager) registered() bool { return true }

func (m *Manager) prepare() error { return nil }

func (m *Manager) rollback(old []byte, had bool) error {
	if had {
		return os.WriteFile(m.file, old, 0o644)
	}
	return m.removeFiles()
}

func (m *Manager) removeFiles() error {
	if err := os.Remove(m.file); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// explain: kardianos already quotes launchctl's stderr.
func (m *Manager) explain(_ string, err error) error { return err }

func (m *Manager) definition() (string, bool) {
	b, err := os.ReadFile(m.file)
	return string(b), err == nil
}

func (m *Manager) executableIn(def string) string { return plistExecutable(def) }

var launchdPID = regexp.MustCompile(`"PID" = ([0-9]+);`)

func (m *Manager) mainPID() int {
	out, err := runCtl("launchctl", "list", paths.ServiceLabel)
	if err != nil {
		return 0
	}
	if mm := launchdPID.FindStringSubmatch(out); mm != nil {
		pid, _ := strconv.Atoi(mm[1])
		return pid
	}
	return 0
}

// RequestStop sends the agent SIGTERM through launchd and returns at once.
// The agent exits 0 on SIGTERM, and KeepAlive restarts it only after a
// failure, so it stays stopped until the next command starts it.
func (m *Manager) RequestStop() error {
	_, err := runCtl("launchctl", "kill", "SIGTERM", "gui/"+strconv.Itoa(os.Getuid())+"/"+paths.ServiceLabel)
	return err
}
