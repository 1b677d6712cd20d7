package browser

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeBrowser writes a script that records its arguments, one per line, in
// a file, and returns the script path and the file path.
func fakeBrowser(t *testing.T) (script, out string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake browser is a shell script")
	}
	dir := t.TempDir()
	out = filepath.Join(dir, "opened")
	script = filepath.Join(dir, "fake-browser")
	body := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > " + out + ".tmp && mv " + out + ".tmp " + out + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, out
}

// waitFile polls for the file the detached fake browser writes.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the fake browser never wrote %s", path)
	return ""
}

func TestOpenUsesBROWSER(t *testing.T) {
	script, out := fakeBrowser(t)
	t.Setenv("BROWSER", script)
	const u = "https://gateway.example.com/cli/login?state=a&code=b"
	if err := Open(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if got := waitFile(t, out); got != u+"\n" {
		t.Errorf("browser got %q, want %q", got, u+"\n")
	}
}

func TestOpenBROWSERPlaceholderAndList(t *testing.T) {
	script, out := fakeBrowser(t)
	// The first entry does not exist; the second is tried next and uses the
	// %s placeholder with an extra argument around it.
	t.Setenv("BROWSER", "/nonexistent/browser-xyz:"+script+" --new-tab=%s --flag")
	const u = "http://127.0.0.1:8080/x"
	if err := Open(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if got, want := waitFile(t, out), "--new-tab="+u+"\n--flag\n"; got != want {
		t.Errorf("browser got %q, want %q", got, want)
	}
}

func TestOpenRefusesNonHTTP(t *testing.T) {
	script, out := fakeBrowser(t)
	t.Setenv("BROWSER", script)
	for _, u := range []string{
		"file:///etc/passwd",
		"javascript:alert(1)",
		"ms-settings:privacy",
		"/relative/path",
		"https://",
		"https://example.com/a b",
		"https://example.com/\nx",
		"",
	} {
		if err := Open(context.Background(), u); err == nil {
			t.Errorf("Open(%q) succeeded, want refusal", u)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused URL reached the browser")
	}
}

func TestOpenReportsFailure(t *testing.T) {
	t.Setenv("BROWSER", "/nonexistent/one:/nonexistent/two")
	err := Open(context.Background(), "https://example.com/")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/two") {
		t.Errorf("err = %v, want both attempts reported", err)
	}
}

func TestOpenCancelledContext(t *testing.T) {
	script, _ := fakeBrowser(t)
	t.Setenv("BROWSER", script)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Open(ctx, "https://example.com/"); err == nil {
		t.Error("Open with a cancelled context succeeded")
	}
}

func TestExpand(t *testing.T) {
	const u = "https://h/p"
	for _, tc := range []struct {
		entry string
		want  []string
	}{
		{"firefox", []string{"firefox", u}},
		{"  chromium  --incognito ", []string{"chromium", "--incognito", u}},
		{"lynx %s", []string{"lynx", u}},
		{"x --u=%s --pct=100%%", []string{"x", "--u=" + u, "--pct=100%"}},
		{"x 50%", []string{"x", "50%", u}},
		{"   ", nil},
	} {
		if got := expand(tc.entry, u); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("expand(%q) = %q, want %q", tc.entry, got, tc.want)
		}
	}
}
