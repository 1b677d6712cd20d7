package core

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/platform/secrets"
)

// countingOpener opens a file store and counts the opens; fail makes the
// next opens fail.
type countingOpener struct {
	opens int
	fail  error
}

func (o *countingOpener) open(dir string) (secrets.Store, error) {
	o.opens++
	if o.fail != nil {
		return nil, o.fail
	}
	return secrets.Open(secrets.Options{Backend: secrets.BackendFile, FileDir: dir})
}

func newTestCore(t *testing.T, o *countingOpener) *Core {
	t.Helper()
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	return New("test", nil, o.open)
}

func writeConfig(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Loading a profile reads config.json only. The store (for the keyring, a
// D-Bus probe) is opened by the first token access, once.
func TestStoreOpensOnFirstTokenAccess(t *testing.T) {
	o := &countingOpener{}
	c := newTestCore(t, o)
	dir := t.TempDir()
	writeConfig(t, dir, `{"current":"prod","gateways":{"prod":{"url":"https://gw.example.com"}}}`)
	p, err := c.Profile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := p.Config(); cfg.Current != "prod" || o.opens != 0 {
		t.Fatalf("after loading: current %q, %d store opens, want prod and 0", cfg.Current, o.opens)
	}
	if tok, err := p.Token("prod"); tok != "" || err != nil {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	if err := p.SetToken("prod", "tok"); err != nil {
		t.Fatal(err)
	}
	if ok, err := p.TokenState("staging"); ok || err != nil {
		t.Errorf("TokenState(staging) = %v, %v", ok, err)
	}
	if d := p.StoreDescription(); !strings.HasPrefix(d, "file ") {
		t.Errorf("StoreDescription = %q", d)
	}
	if o.opens != 1 {
		t.Errorf("%d store opens, want 1", o.opens)
	}
}

// A store that cannot be opened is reported on each access and tried again
// next time, so a keyring that comes back is used.
func TestStoreOpenFailureIsRetried(t *testing.T) {
	o := &countingOpener{fail: errors.New("the OS keyring was requested but is unavailable")}
	c := newTestCore(t, o)
	p, err := c.Profile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Token("prod"); err == nil || !strings.Contains(err.Error(), "unavailable") {
		t.Fatalf("Token with a failing store: %v", err)
	}
	if ok, err := p.TokenState("prod"); ok || err == nil {
		t.Errorf("TokenState with a failing store = %v, %v; want the error, not 'not logged in'", ok, err)
	}
	if d := p.StoreDescription(); !strings.HasPrefix(d, "unavailable: ") {
		t.Errorf("StoreDescription = %q", d)
	}
	o.fail = nil
	if err := p.SetToken("prod", "tok"); err != nil {
		t.Fatalf("SetToken once the store opens: %v", err)
	}
	if tok, err := p.Token("prod"); tok != "tok" || err != nil {
		t.Errorf("Token = %q, %v", tok, err)
	}
	if o.opens != 4 {
		t.Errorf("%d store opens, want 4 (three failures, then one that stays open)", o.opens)
	}
}

// Tokens the upstream CLI left in config.json need the store at load time.
func TestUpstreamTokenOpensTheStore(t *testing.T) {
	o := &countingOpener{}
	c := newTestCore(t, o)
	dir := t.TempDir()
	writeConfig(t, dir, `{"current":"prod","gateways":{"prod":{"url":"https://gw.example.com","token":"upstream-token"}}}`)
	p, err := c.Profile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if o.opens != 1 {
		t.Errorf("%d store opens, want 1", o.opens)
	}
	if tok, err := p.Token("prod"); tok != "upstream-token" || err != nil {
		t.Errorf("Token = %q, %v", tok, err)
	}
	if n := p.TakeNotices(); len(n) != 1 || !strings.Contains(n[0], "moved the session token for prod") {
		t.Errorf("notices = %q", n)
	}
}
