//go:build linux || darwin

package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	ks "github.com/kardianos/service"
)

// ErrNotInstalled is returned by Uninstall when there is nothing to remove.
var ErrNotInstalled = errors.New("the agent is not installed as a service")

// ctlTimeout bounds each systemctl or launchctl run of our own; a service
// manager that hangs must not hang the command.
const ctlTimeout = 10 * time.Second

// Manager installs and controls the agent's per-user service.
type Manager struct {
	opts Options
	cfg  *ks.Config
	svc  ks.Service
	file string
	// optionKey is the kardianos option that carries our definition:
	// SystemdScript or LaunchdConfig.
	optionKey string
	kind      string
}

// program is the kardianos Interface. The agent is never run through
// kardianos (the service manager runs `rack-gateway-agent run` itself), so
// there is nothing to start or stop here.
type program struct{}

func (program) Start(ks.Service) error { return nil }
func (program) Stop(ks.Service) error  { return nil }

// New returns the Manager for the current user. opts.Executable is needed
// by Install only.
func New(opts Options) (*Manager, error) {
	m := &Manager{opts: opts}
	if err := m.setup(); err != nil {
		return nil, err
	}
	m.cfg.Executable = opts.Executable
	m.cfg.Arguments = []string{"run"}
	m.cfg.Description = Description
	m.cfg.Option = ks.KeyValue{"UserService": true}
	svc, err := ks.New(program{}, m.cfg)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	m.svc = svc
	return m, nil
}

// File is where the unit or plist lives.
func (m *Manager) File() string { return m.file }

// Kind names the mechanism, for messages.
func (m *Manager) Kind() string { return m.kind }

// Install writes the service definition and registers it with the service
// manager (systemctl --user enable; on macOS the plist is loaded by Start).
// It reports false when the same definition was already installed. When a
// step fails, it puts back what was there before: no new unit is left
// behind (kardianos leaves its file in place when systemctl fails).
func (m *Manager) Install() (bool, error) {
	text, err := m.render()
	if err != nil {
		return false, err
	}
	old, readErr := os.ReadFile(m.file)
	had := readErr == nil
	if had && string(old) == text && m.registered() {
		return false, nil
	}
	if err := m.prepare(); err != nil {
		return false, err
	}
	if had {
		// kardianos refuses to overwrite; the old file is restored below
		// if the new one cannot be installed.
		if err := os.Remove(m.file); err != nil {
			return false, fmt.Errorf("service: replace %s: %w", m.file, err)
		}
	}
	m.cfg.Option[m.optionKey] = text
	if err := m.svc.Install(); err != nil {
		if rerr := m.rollback(old, had); rerr != nil {
			return false, fmt.Errorf("service: install: %w (and putting back the previous state failed: %v)", m.explain("enable/daemon-reload", err), rerr)
		}
		return false, fmt.Errorf("service: install: %w", m.explain("enable/daemon-reload", err))
	}
	return true, nil
}

// Uninstall stops the service and removes its definition. If the service
// manager fails on the way, the files are removed all the same (that is
// what the user asked for) and the error says what failed.
func (m *Manager) Uninstall() error {
	if _, err := os.Stat(m.file); err != nil {
		return ErrNotInstalled
	}
	_ = m.svc.Stop() // not running is fine
	err := m.svc.Uninstall()
	if err == nil {
		return nil
	}
	if cerr := m.removeFiles(); cerr != nil {
		return fmt.Errorf("service: uninstall: %w; %v", m.explain("disable", err), cerr)
	}
	return fmt.Errorf("service: %s is removed, but the service manager failed: %w", m.file, m.explain("disable", err))
}

// Start asks the service manager to start the service.
func (m *Manager) Start() error { return m.explainErr("start", m.svc.Start()) }

// Stop asks the service manager to stop the service and waits for it.
func (m *Manager) Stop() error { return m.explainErr("stop", m.svc.Stop()) }

// Restart asks the service manager to restart the service.
func (m *Manager) Restart() error { return m.explainErr("restart", m.svc.Restart()) }

// Status reports whether the service is installed and running, and which
// program it runs.
func (m *Manager) Status() Status {
	st := Status{Kind: m.kind, File: m.file}
	def, ok := m.definition()
	if !ok {
		return st
	}
	st.Installed = true
	st.Executable = m.executableIn(def)
	s, err := m.svc.Status()
	switch {
	case err == nil:
		st.Running = s == ks.StatusRunning
	case errors.Is(err, ks.ErrNotInstalled):
		// The file is there but the manager has not loaded it.
	default:
		st.Err = err
	}
	if st.Running {
		st.MainPID = m.mainPID()
	}
	return st
}

func (m *Manager) explainErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("service: %s: %w", op, m.explain(op, err))
}

// runCtl runs a service-manager command with a deadline and returns its
// stdout; a failure carries the command's stderr.
func runCtl(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ctlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		return "", fmt.Errorf("%s %s: no answer within %s", name, strings.Join(args, " "), ctlTimeout)
	}
	if err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return out.String(), fmt.Errorf("%s %s: %s", name, strings.Join(args, " "), msg)
	}
	return out.String(), nil
}
