package secrets

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	keyring "github.com/zalando/go-keyring"
)

// memKeyring is an in-memory keyringAPI that answers like go-keyring.
type memKeyring struct {
	mu sync.Mutex
	m  map[string]string
}

func (k *memKeyring) Get(service, user string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[service+"/"+user]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (k *memKeyring) Set(service, user, pw string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]string{}
	}
	k.m[service+"/"+user] = pw
	return nil
}

func (k *memKeyring) Delete(service, user string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.m[service+"/"+user]; !ok {
		return keyring.ErrNotFound
	}
	delete(k.m, service+"/"+user)
	return nil
}

// hangingKeyring never answers until released, like a Secret Service that
// is waiting on an unlock prompt nobody will ever see.
type hangingKeyring struct{ release chan struct{} }

func (h hangingKeyring) Get(string, string) (string, error) {
	<-h.release
	return "", errors.New("late")
}
func (h hangingKeyring) Set(string, string, string) error { <-h.release; return errors.New("late") }
func (h hangingKeyring) Delete(string, string) error      { <-h.release; return errors.New("late") }

func newHanging(t *testing.T) hangingKeyring {
	h := hangingKeyring{release: make(chan struct{})}
	t.Cleanup(func() { close(h.release) })
	return h
}

func TestKeyringStoreWithFake(t *testing.T) {
	s, err := openWith(Options{Backend: BackendAuto, FileDir: t.TempDir()}, &memKeyring{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind() != BackendKeyring || !strings.HasPrefix(s.Describe(), "OS keyring") {
		t.Fatalf("auto with a working keyring chose %q (%s)", s.Kind(), s.Describe())
	}
	if _, err := s.Get("prod"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get absent: %v, want ErrNotFound", err)
	}
	if err := s.Delete("prod"); err != nil {
		t.Errorf("Delete absent: %v", err)
	}
	if err := s.Set("prod", "tok"); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get("prod"); v != "tok" || err != nil {
		t.Errorf("Get = %q, %v", v, err)
	}
}

func TestKeyringCallTimeout(t *testing.T) {
	const timeout = 60 * time.Millisecond

	start := time.Now()
	_, err := openWith(Options{Backend: BackendKeyring, Timeout: timeout}, newHanging(t))
	elapsed := time.Since(start)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("forced keyring with a hung service: err = %v, want ErrTimeout", err)
	}
	if elapsed < timeout || elapsed > timeout+2*time.Second {
		t.Errorf("returned after %s, want about %s", elapsed, timeout)
	}

	// Auto mode falls back to the file store and says why.
	s, err := openWith(Options{Timeout: timeout, FileDir: t.TempDir()}, newHanging(t))
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind() != BackendFile || !strings.Contains(s.Describe(), "did not answer") {
		t.Errorf("auto with hung keyring: Kind %q, Describe %q", s.Kind(), s.Describe())
	}

	// Each operation on an already-open keyring store is bounded too, and
	// once enough calls are stuck, later ones fail at once.
	ks := newKeyringStore(newHanging(t), timeout)
	for i := 0; i < maxHanging; i++ {
		if err := ks.Set("prod", "tok"); !errors.Is(err, ErrTimeout) {
			t.Fatalf("Set %d: %v, want ErrTimeout", i, err)
		}
	}
	start = time.Now()
	if _, err := ks.Get("prod"); !errors.Is(err, ErrTimeout) || time.Since(start) > timeout/2 {
		t.Errorf("call past the hanging cap: %v after %s, want an immediate ErrTimeout", err, time.Since(start))
	}
}

// inChild runs the calling test again in a fresh test process with env
// added, and reports whether the caller is that child. godbus caches its
// session-bus connection for the whole process, so a test that needs "no
// D-Bus" must not share a process with one that reached a real bus.
func inChild(t *testing.T, env ...string) bool {
	t.Helper()
	const marker = "RACK_GATEWAY_SECRETS_TEST_CHILD"
	if os.Getenv(marker) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), append(env, marker+"="+t.Name())...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child test failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("child test did not pass:\n%s", out)
	}
	t.Logf("child output:\n%s", out)
	return false
}

func TestAutoFallsBackWithoutDBus(t *testing.T) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("the keyring does not use D-Bus on " + runtime.GOOS)
	}
	if !inChild(t, "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/rack-gateway-test/bus") {
		return
	}
	dir := t.TempDir()
	start := time.Now()
	s, err := Open(Options{FileDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind() != BackendFile {
		t.Fatalf("Kind = %q, want file", s.Kind())
	}
	d := s.Describe()
	t.Logf("Describe: %s (after %s)", d, time.Since(start))
	if !strings.Contains(d, "no keyring available") || !strings.Contains(d, "D-Bus") {
		t.Errorf("Describe = %q, want it to say the keyring is unavailable because of D-Bus", d)
	}
	if err := s.Set("prod", "tok"); err != nil {
		t.Fatal(err)
	}

	_, err = Open(Options{Backend: BackendKeyring})
	if err == nil || !strings.Contains(err.Error(), "unavailable") {
		t.Errorf("forced keyring without D-Bus: err = %v, want unavailable", err)
	}
}

// TestKeyringRealSecretService talks to a real gnome-keyring. Run it with
//
//	dbus-run-session -- bash .ci/keyring-session.sh go test ./platform/secrets/ -run Keyring -v
func TestKeyringRealSecretService(t *testing.T) {
	if os.Getenv("RACK_GATEWAY_KEYRING_TEST") != "1" {
		t.Skip("needs a real Secret Service: set RACK_GATEWAY_KEYRING_TEST=1 (run under .ci/keyring-session.sh)")
	}
	s, err := Open(Options{Backend: BackendKeyring, FileDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind() != BackendKeyring {
		t.Fatalf("Kind = %q", s.Kind())
	}
	account := fmt.Sprintf("test-%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() { _ = s.Delete(account) })

	if _, err := s.Get(account); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Set: %v, want ErrNotFound", err)
	}
	if err := s.Set(account, "first-token"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(account, "second-token"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(account)
	if err != nil || got != "second-token" {
		t.Fatalf("Get = %q, %v; want second-token", got, err)
	}
	if err := s.Delete(account); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(account); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(account); err != nil {
		t.Errorf("Delete of absent: %v", err)
	}

	auto, err := Open(Options{FileDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if auto.Kind() != BackendKeyring {
		t.Errorf("auto chose %q (%s) although the keyring works", auto.Kind(), auto.Describe())
	}
	t.Logf("auto: %s", auto.Describe())
}
