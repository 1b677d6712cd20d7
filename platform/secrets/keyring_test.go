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

	// A keyring that is there but does not answer is reported, never
	// replaced by the file store (that would hide the user's tokens behind
	// "not logged in"), whether the keyring was forced or chosen by auto.
	for _, backend := range []string{BackendKeyring, BackendAuto} {
		s, err := openWith(Options{Backend: backend, Timeout: timeout, FileDir: t.TempDir()}, newHanging(t))
		if err != nil {
			t.Fatalf("%s with a hung keyring: Open: %v", backend, err)
		}
		if s.Kind() != BackendKeyring || !strings.Contains(s.Describe(), "not answering") {
			t.Errorf("%s with a hung keyring: Kind %q, Describe %q", backend, s.Kind(), s.Describe())
		}
		_, err = s.Get("prod")
		var te *TimeoutError
		if !errors.Is(err, ErrTimeout) || !errors.As(err, &te) || te.After != timeout || te.Op != "get" {
			t.Fatalf("%s: Get on a hung keyring: %v, want a TimeoutError after %s", backend, err, timeout)
		}
		if !strings.Contains(err.Error(), "did not answer within 60ms") {
			t.Errorf("%s: error text %q does not say how long it waited", backend, err)
		}
	}

	// Each operation on an already-open keyring store is bounded too, and
	// once enough calls are stuck, later ones are refused without a try.
	ks := newKeyringStore(newHanging(t), timeout)
	for i := 0; i < maxHanging; i++ {
		if err := ks.Set("prod", "tok"); !errors.Is(err, ErrTimeout) {
			t.Fatalf("Set %d: %v, want ErrTimeout", i, err)
		}
	}
	_, err := ks.Get("prod")
	var te *TimeoutError
	if !errors.As(err, &te) || te.Blocked != maxHanging {
		t.Errorf("call past the hanging cap: %v, want a TimeoutError refusing at once with %d calls blocked", err, maxHanging)
	}
}

// A keyring that answers again is used again: a timeout is not remembered.
func TestKeyringRecoversAfterTimeout(t *testing.T) {
	t.Parallel()
	k := &slowKeyring{memKeyring: &memKeyring{}, gate: make(chan struct{})}
	s, err := openWith(Options{Backend: BackendAuto, Timeout: 50 * time.Millisecond, FileDir: t.TempDir()}, k)
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind() != BackendKeyring {
		t.Fatalf("Kind %q", s.Kind())
	}
	close(k.gate)
	if err := s.Set("prod", "tok"); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get("prod"); v != "tok" || err != nil {
		t.Errorf("Get after the keyring answered again: %q, %v", v, err)
	}
	if strings.Contains(s.Describe(), "not answering") {
		t.Errorf("Describe still says %q", s.Describe())
	}
}

// slowKeyring blocks every call until gate is closed, then answers.
type slowKeyring struct {
	*memKeyring
	gate chan struct{}
}

func (k *slowKeyring) Get(s, u string) (string, error) { <-k.gate; return k.memKeyring.Get(s, u) }
func (k *slowKeyring) Set(s, u, p string) error        { <-k.gate; return k.memKeyring.Set(s, u, p) }

func TestKeyringTimeoutFromEnvironment(t *testing.T) {
	t.Setenv(EnvTimeout, "40ms")
	s, err := openWith(Options{Backend: BackendKeyring}, newHanging(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Get("prod")
	var te *TimeoutError
	if !errors.As(err, &te) || te.After != 40*time.Millisecond {
		t.Errorf("Get: %v, want a TimeoutError after 40ms", err)
	}
	t.Setenv(EnvTimeout, "soon")
	if _, err := openWith(Options{Backend: BackendKeyring}, newHanging(t)); err == nil || !strings.Contains(err.Error(), EnvTimeout) {
		t.Errorf("bad %s: err = %v, want it named", EnvTimeout, err)
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
