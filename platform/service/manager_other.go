//go:build !(linux || darwin)

package service

import "errors"

// ErrNotInstalled is returned by Uninstall when there is nothing to remove.
var ErrNotInstalled = errors.New("the agent is not installed as a service")

// Manager is never made here: New returns ErrUnsupported.
type Manager struct{}

// New returns ErrUnsupported: there is no per-user service on this OS.
func New(Options) (*Manager, error) { return nil, ErrUnsupported }

// File is "".
func (*Manager) File() string { return "" }

// Kind is "".
func (*Manager) Kind() string { return "" }

// Install returns ErrUnsupported.
func (*Manager) Install() (bool, error) { return false, ErrUnsupported }

// Uninstall returns ErrUnsupported.
func (*Manager) Uninstall() error { return ErrUnsupported }

// Start returns ErrUnsupported.
func (*Manager) Start() error { return ErrUnsupported }

// Stop returns ErrUnsupported.
func (*Manager) Stop() error { return ErrUnsupported }

// Restart returns ErrUnsupported.
func (*Manager) Restart() error { return ErrUnsupported }

// RequestStop returns ErrUnsupported.
func (*Manager) RequestStop() error { return ErrUnsupported }

// Status reports nothing installed.
func (*Manager) Status() Status { return Status{} }
