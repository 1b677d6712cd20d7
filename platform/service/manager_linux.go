package service

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	ks "github.com/kardianos/service"

	"github.com/rack-gateway/rack-gateway/platform/paths"
)

var (
	chooseOnce sync.Once
	chooseErr  error
)

// alwaysDetected is kardianos's systemd backend with detection turned off.
// kardianos picks a backend by looking at the machine (systemd as PID 1,
// /run/systemd/system); without one it would pick SysV or upstart and write
// to /etc/init.d. A per-user agent only ever wants a systemd user unit: if
// there is no systemd, installing fails with a clear error instead.
type alwaysDetected struct{ ks.System }

func (alwaysDetected) Detect() bool { return true }

func chooseSystemd() error {
	chooseOnce.Do(func() {
		for _, s := range ks.AvailableSystems() {
			if s.String() == "linux-systemd" {
				ks.ChooseSystem(alwaysDetected{s})
				return
			}
		}
		chooseErr = errors.New("service: kardianos/service has no systemd backend")
	})
	return chooseErr
}

func (m *Manager) setup() error {
	if err := chooseSystemd(); err != nil {
		return err
	}
	file, err := paths.ServiceFile()
	if err != nil {
		return err
	}
	m.file, m.kind, m.optionKey = file, "systemd user unit", "SystemdScript"
	m.cfg = &ks.Config{Name: paths.ServiceName, DisplayName: paths.ServiceName}
	return nil
}

func (m *Manager) render() (string, error) { return SystemdUnit(m.opts) }

func (m *Manager) unitName() string { return paths.ServiceName + ".service" }

// registered reports whether the unit is enabled (its default.target.wants
// link exists).
func (m *Manager) registered() bool {
	link, err := paths.ServiceEnabledLink()
	if err != nil {
		return false
	}
	_, err = os.Lstat(link)
	return err == nil
}

// prepare checks that a systemd user manager answers, before anything is
// written.
func (m *Manager) prepare() error {
	if _, err := runCtl("systemctl", "--user", "show-environment"); err != nil {
		return fmt.Errorf("service: %w", m.explain("show-environment", err))
	}
	return nil
}

// rollback undoes a failed Install: the previous unit comes back, or the
// new one and its enable link go.
func (m *Manager) rollback(old []byte, had bool) error {
	if had {
		return os.WriteFile(m.file, old, 0o644)
	}
	return m.removeFiles()
}

// removeFiles removes the unit and, if it points at it, its enable link,
// without systemctl.
func (m *Manager) removeFiles() error {
	if link, err := paths.ServiceEnabledLink(); err == nil {
		if target, err := os.Readlink(link); err == nil && (target == m.file || filepath.Base(target) == m.unitName()) {
			_ = os.Remove(link)
		}
	}
	if err := os.Remove(m.file); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// explain adds what the user needs to know to a systemctl failure of op.
// kardianos reports only "exit status 1"; systemctl's own words say why.
func (m *Manager) explain(op string, err error) error {
	if errors.Is(err, exec.ErrNotFound) || strings.Contains(err.Error(), "executable file not found") {
		return fmt.Errorf("systemctl was not found: this system does not run systemd, so there is no user service; the agent keeps starting on demand (%w)", err)
	}
	if !strings.Contains(err.Error(), "systemctl") {
		if _, perr := runCtl("systemctl", "--user", "show-environment"); perr != nil {
			return fmt.Errorf("%w (%v)", err, perr)
		}
		return fmt.Errorf("systemctl --user %s %s failed: %w", op, m.unitName(), err)
	}
	return err
}

// definition returns the unit the service manager would run: ours, or a
// package's copy the user enabled.
func (m *Manager) definition() (string, bool) {
	if b, err := os.ReadFile(m.file); err == nil {
		return string(b), true
	}
	if link, err := paths.ServiceEnabledLink(); err == nil {
		if b, err := os.ReadFile(link); err == nil {
			return string(b), true
		}
	}
	return "", false
}

func (m *Manager) executableIn(def string) string { return unitExecutable(def) }

func (m *Manager) mainPID() int {
	out, err := runCtl("systemctl", "--user", "show", "--property=MainPID", "--value", m.unitName())
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(out))
	return pid
}

// RequestStop asks systemd to stop the service and returns at once
// (--no-block). The agent calls it on itself for `agent stop`: a blocking
// stop would wait for the very process that is waiting.
func (m *Manager) RequestStop() error {
	_, err := runCtl("systemctl", "--user", "stop", "--no-block", m.unitName())
	return err
}
