package paths

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestConfigDirOrder(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", "")
	t.Setenv(ConfigDirEnv, "")

	got, err := ConfigDir("")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, ".config", "rack-gateway"); got != want {
		t.Errorf("default: got %q, want %q", got, want)
	}

	envDir := filepath.Join(home, "from-env")
	t.Setenv(ConfigDirEnv, envDir)
	if got, _ := ConfigDir(""); got != envDir {
		t.Errorf("env: got %q, want %q", got, envDir)
	}

	flagDir := filepath.Join(home, "from-flag")
	if got, _ := ConfigDir(flagDir); got != flagDir {
		t.Errorf("flag: got %q, want %q", got, flagDir)
	}
}

func TestConfigDirUserProfileFallback(t *testing.T) {
	profile := t.TempDir()
	t.Setenv("HOME", "")
	t.Setenv("USERPROFILE", profile)
	t.Setenv(ConfigDirEnv, "")
	got, err := ConfigDir("")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(profile, ".config", "rack-gateway"); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestStateDirXDG(t *testing.T) {
	base := t.TempDir()
	t.Setenv("XDG_STATE_HOME", base)
	dir, err := StateDir()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(base, "rack-gateway"); dir != want {
		t.Fatalf("got %q, want %q", dir, want)
	}
	assertPrivateDir(t, dir)

	log, err := AgentLogPath()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(base, "rack-gateway", "agent.log"); log != want {
		t.Errorf("AgentLogPath = %q, want %q", log, want)
	}
}

func TestStateDirIgnoresRelativeXDG(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("LOCALAPPDATA", home)
	t.Setenv("XDG_STATE_HOME", "relative/state")
	dir, err := StateDir()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dir, home) {
		t.Fatalf("relative XDG_STATE_HOME was used: %q", dir)
	}
}

func TestEnsurePrivateDirFixesMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits do not apply on Windows")
	}
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := EnsurePrivateDir(dir); err != nil {
		t.Fatal(err)
	}
	assertPrivateDir(t, dir)
}

func TestEnsurePrivateDirRejectsSymlinkAndFile(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Skipf("cannot create symlink here: %v", err)
	}
	if err := EnsurePrivateDir(link); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("symlink: got %v, want an error mentioning symlink", err)
	}

	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := EnsurePrivateDir(file); err == nil {
		t.Error("regular file accepted as a private dir")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	if err := WriteFileAtomic(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "two" {
		t.Errorf("content = %q, want %q", b, "two")
	}
	if runtime.GOOS != "windows" {
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode = %04o, want 0600", fi.Mode().Perm())
		}
		if err := WriteFileAtomic(p, []byte("three"), 0o644); err != nil {
			t.Fatal(err)
		}
		fi, _ = os.Stat(p)
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("perm not applied: mode = %04o, want 0644", fi.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("temporary files left behind: %v", names)
	}
}

func TestWriteFileAtomicMissingDir(t *testing.T) {
	p := filepath.Join(t.TempDir(), "missing", "f")
	if err := WriteFileAtomic(p, []byte("x"), 0o600); err == nil {
		t.Fatal("expected an error for a missing directory")
	}
}

func assertPrivateDir(t *testing.T, dir string) {
	t.Helper()
	fi, err := os.Lstat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		t.Fatalf("%s is not a directory", dir)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
		t.Fatalf("%s has mode %04o, want 0700", dir, fi.Mode().Perm())
	}
}
