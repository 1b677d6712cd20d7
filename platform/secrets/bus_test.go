//go:build linux

package secrets

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeDBusLaunch puts a dbus-launch on PATH that only records that it ran:
// godbus runs dbus-launch to start a bus when it finds none, and that bus
// never exits.
func fakeDBusLaunch(t *testing.T) (pathEnv, ranFile string) {
	t.Helper()
	dir := t.TempDir()
	ranFile = filepath.Join(dir, "ran")
	script := "#!/bin/sh\necho ran >> " + ranFile + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "dbus-launch"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return "PATH=" + dir + ":" + os.Getenv("PATH"), ranFile
}

// No DBUS_SESSION_BUS_ADDRESS and no $XDG_RUNTIME_DIR/bus: auto mode picks
// the file store, says why, and go-keyring is never called, so nothing
// can autolaunch a bus.
func TestNoSessionBusNeverLaunchesOne(t *testing.T) {
	pathEnv, ran := fakeDBusLaunch(t)
	if !inChild(t, "DBUS_SESSION_BUS_ADDRESS=", "XDG_RUNTIME_DIR="+t.TempDir(), pathEnv) {
		if _, err := os.Stat(ran); err == nil {
			t.Error("dbus-launch was run")
		}
		return
	}
	s, err := Open(Options{FileDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind() != BackendFile || !strings.Contains(s.Describe(), "no keyring available: no D-Bus session bus") {
		t.Errorf("Kind %q, Describe %q", s.Kind(), s.Describe())
	}
	if _, err := Open(Options{Backend: BackendKeyring}); err == nil || !strings.Contains(err.Error(), "no D-Bus session bus") {
		t.Errorf("forced keyring without a bus: %v", err)
	}
	if v := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); v != "" {
		t.Errorf("DBUS_SESSION_BUS_ADDRESS became %q", v)
	}
}

// With DBUS_SESSION_BUS_ADDRESS unset but a socket at $XDG_RUNTIME_DIR/bus,
// the keyring is tried on that socket, named explicitly.
func TestSessionBusFromRuntimeDir(t *testing.T) {
	pathEnv, ran := fakeDBusLaunch(t)
	if !inChild(t, "DBUS_SESSION_BUS_ADDRESS=", "XDG_RUNTIME_DIR="+t.TempDir(), pathEnv) {
		if _, err := os.Stat(ran); err == nil {
			t.Error("dbus-launch was run")
		}
		return
	}
	rt := os.Getenv("XDG_RUNTIME_DIR") // the parent's directory
	// A bus that hangs up at once: enough to see who connects where.
	ln, err := net.Listen("unix", filepath.Join(rt, "bus"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	s, err := Open(Options{FileDir: t.TempDir(), Timeout: DefaultTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := os.Getenv("DBUS_SESSION_BUS_ADDRESS"), "unix:path="+escapeBusValue(filepath.Join(rt, "bus")); got != want {
		t.Errorf("DBUS_SESSION_BUS_ADDRESS = %q, want %q", got, want)
	}
	select {
	case <-accepted:
	default:
		t.Error("the keyring probe never connected to $XDG_RUNTIME_DIR/bus")
	}
	// The bus hung up: that is no keyring, not a hung one.
	if s.Kind() != BackendFile {
		t.Errorf("Kind %q (%s), want the file store", s.Kind(), s.Describe())
	}
	t.Logf("Describe: %s", s.Describe())
}

func TestEscapeBusValue(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/run/user/1000/bus":  "/run/user/1000/bus",
		"/tmp/a b/bus=x;y,z":  "/tmp/a%20b/bus%3dx%3by%2cz",
		"/tmp/Tëst_-.*\\/bus": "/tmp/T%c3%abst_-.*\\/bus",
	} {
		if got := escapeBusValue(in); got != want {
			t.Errorf("escapeBusValue(%q) = %q, want %q", in, got, want)
		}
	}
}
