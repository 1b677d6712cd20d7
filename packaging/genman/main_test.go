package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunWritesPagesAndCompletions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stale := filepath.Join(dir, "man", "man1", "rack-gateway-gone.1.gz")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-version", "v1.0.0", "-date", "2026-02-03T10:11:12Z", "-gzip", dir}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale page survived: %v", err)
	}
	for _, name := range []string{"rack-gateway.1.gz", "rack-gateway-login.1.gz", "rack-gateway-agent.1.gz"} {
		page := gunzip(t, filepath.Join(dir, "man", "man1", name))
		if !strings.HasPrefix(page, ".TH ") || !strings.Contains(page, `"2026\-02\-03" "rack\-gateway v1.0.0"`) {
			t.Errorf("%s: %.100q", name, page)
		}
	}
	// The agent page carries rack-gateway-agent's own help.
	if page := gunzip(t, filepath.Join(dir, "man", "man1", "rack-gateway-agent.1.gz")); !strings.Contains(page, `rack\-gateway\-agent run`) {
		t.Errorf("agent page lacks the agent program's usage:\n%s", page)
	}
	for name, want := range map[string]string{
		"rack-gateway.bash": "complete -F _rack_gateway rack-gateway",
		"_rack-gateway":     "#compdef rack-gateway",
		"rack-gateway.fish": "complete -c rack-gateway",
	} {
		b, err := os.ReadFile(filepath.Join(dir, "completions", name))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s: %v %.80q", name, err, b)
		}
	}
}

func TestRunPlainPagesAndUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := run([]string{dir}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "man", "man1", "rack-gateway.1")); err != nil {
		t.Error(err)
	}
	if err := run(nil, io.Discard); err == nil {
		t.Error("no DIR: no error")
	}
	if err := run([]string{"-date", "yesterday", dir}, io.Discard); err == nil {
		t.Error("bad date: no error")
	}
}

func TestFooterDate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 6, 23, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{"": "2026-05-06", "2025-01-31": "2025-01-31", "2025-01-31T23:30:00-02:00": "2025-02-01"} {
		if got, err := footerDate(in, now); err != nil || got != want {
			t.Errorf("footerDate(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return string(out)
}
