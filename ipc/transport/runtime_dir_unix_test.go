//go:build unix

package transport

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// testSkipXDG skips tests of the XDG_RUNTIME_DIR branch where RuntimeDir
// ignores the variable.
func testSkipXDG(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		t.Skip("RuntimeDir ignores XDG_RUNTIME_DIR on Apple platforms")
	}
}

func testMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestRuntimeDirXDG(t *testing.T) {
	testSkipXDG(t)
	base := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", base)

	dir, err := RuntimeDir()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(base, "rack-gateway"); dir != want {
		t.Fatalf("RuntimeDir = %q, want %q", dir, want)
	}
	if m := testMode(t, dir); !m.IsDir() || m.Perm() != 0o700 {
		t.Fatalf("mode = %v, want drwx------", m)
	}
	// A second call finds and accepts the directory it made.
	if again, err := RuntimeDir(); err != nil || again != dir {
		t.Fatalf("second RuntimeDir = %q, %v", again, err)
	}
	sock, err := SocketPath()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "agent.sock"); sock != want {
		t.Fatalf("SocketPath = %q, want %q", sock, want)
	}
}

func TestRuntimeDirTempFallback(t *testing.T) {
	for _, xdg := range []string{"", "relative/dir"} {
		t.Run("XDG="+xdg, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("XDG_RUNTIME_DIR", xdg) // empty and relative values are ignored
			t.Setenv("TMPDIR", tmp)

			dir, err := RuntimeDir()
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(tmp, "rack-gateway-"+strconv.Itoa(os.Getuid())); dir != want {
				t.Fatalf("RuntimeDir = %q, want %q", dir, want)
			}
			if m := testMode(t, dir); !m.IsDir() || m.Perm() != 0o700 {
				t.Fatalf("mode = %v, want drwx------", m)
			}
		})
	}
}

// testPointRuntimeDir points RuntimeDir at a fresh temporary base and
// returns the directory it will use: via XDG_RUNTIME_DIR where that is
// honoured, via TMPDIR on Apple platforms.
func testPointRuntimeDir(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		t.Setenv("TMPDIR", base)
		return filepath.Join(base, "rack-gateway-"+strconv.Itoa(os.Getuid()))
	}
	t.Setenv("XDG_RUNTIME_DIR", base)
	return filepath.Join(base, "rack-gateway")
}

func TestRuntimeDirRefusesUnsafeDir(t *testing.T) {
	cases := []struct {
		name    string
		root    bool // needs root to set up
		prepare func(t *testing.T, dir string)
		want    []string // substrings of the error
	}{
		{
			name: "mode 0755",
			prepare: func(t *testing.T, dir string) {
				testMkdir(t, dir, 0o755)
			},
			want: []string{"mode 0755", "chmod 700 " + "DIR"},
		},
		{
			name: "mode 0701",
			prepare: func(t *testing.T, dir string) {
				testMkdir(t, dir, 0o701)
			},
			want: []string{"mode 0701"},
		},
		{
			name: "symlink",
			prepare: func(t *testing.T, dir string) {
				target := filepath.Join(filepath.Dir(dir), "elsewhere")
				testMkdir(t, target, 0o700)
				if err := os.Symlink(target, dir); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"symlink", "rm DIR"},
		},
		{
			name: "regular file",
			prepare: func(t *testing.T, dir string) {
				if err := os.WriteFile(dir, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"not a directory"},
		},
		{
			name: "other owner",
			root: true,
			prepare: func(t *testing.T, dir string) {
				testMkdir(t, dir, 0o700)
				if err := os.Chown(dir, 65534, 65534); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"owned by uid 65534"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && os.Getuid() != 0 {
				t.Skip("needs root to chown a directory to uid 65534 (nobody)")
			}
			dir := testPointRuntimeDir(t)
			tc.prepare(t, dir)

			got, err := RuntimeDir()
			if err == nil {
				t.Fatalf("RuntimeDir = %q, want an error", got)
			}
			msg := err.Error()
			if !strings.Contains(msg, dir) {
				t.Errorf("error %q does not name %s", msg, dir)
			}
			for _, w := range tc.want {
				if w = strings.ReplaceAll(w, "DIR", dir); !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			// The check must never "repair" a directory it did not make.
			if tc.name == "mode 0755" {
				if m := testMode(t, dir); m.Perm() != 0o755 {
					t.Errorf("mode changed to %v", m)
				}
			}
		})
	}
}

func TestRuntimeDirRefusesForeignXDG(t *testing.T) {
	testSkipXDG(t)
	if os.Getuid() != 0 {
		t.Skip("needs root to chown a directory to uid 65534 (nobody)")
	}
	base := t.TempDir()
	if err := os.Chown(base, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", base)
	_, err := RuntimeDir()
	if err == nil || !strings.Contains(err.Error(), "XDG_RUNTIME_DIR="+base) {
		t.Fatalf("RuntimeDir error = %v, want one naming XDG_RUNTIME_DIR", err)
	}
}

// testMkdir makes dir with exactly mode perm, regardless of the umask.
func testMkdir(t *testing.T, dir string, perm os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, perm); err != nil {
		t.Fatal(err)
	}
}
