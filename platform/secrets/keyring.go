package secrets

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	keyring "github.com/zalando/go-keyring"
)

// keyringAPI is the subset of go-keyring we use. It exists so a test can
// inject an implementation that blocks, to exercise the timeout path without
// wedging a real Secret Service.
type keyringAPI interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

// goKeyring forwards to the real go-keyring package-level functions, each
// only once useSessionBus has found a bus, so no call can make godbus start
// one.
type goKeyring struct{}

func (goKeyring) Get(service, user string) (string, error) {
	if err := useSessionBus(); err != nil {
		return "", err
	}
	return keyring.Get(service, user)
}

func (goKeyring) Set(service, user, pw string) error {
	if err := useSessionBus(); err != nil {
		return err
	}
	return keyring.Set(service, user, pw)
}

func (goKeyring) Delete(service, user string) error {
	if err := useSessionBus(); err != nil {
		return err
	}
	return keyring.Delete(service, user)
}

// probeAccount is looked up by Open to test the keyring. Nothing is ever
// stored under it; not-found is the healthy answer.
const probeAccount = "__rack-gateway-probe__"

// maxHanging bounds the goroutines left behind by timed-out calls. A wedged
// Secret Service never returns, so without a cap each later call would leak
// another goroutine; past the cap we fail at once instead.
const maxHanging = 8

type keyringStore struct {
	api     keyringAPI
	timeout time.Duration
	// running counts calls whose goroutine has not returned yet, including
	// those that already timed out from the caller's point of view.
	running atomic.Int32
	// hung is set while the last call got no answer in time, for Describe.
	hung atomic.Bool
}

func newKeyringStore(api keyringAPI, timeout time.Duration) *keyringStore {
	return &keyringStore{api: api, timeout: timeout}
}

func (k *keyringStore) Kind() string { return BackendKeyring }

func (k *keyringStore) Describe() string {
	d := "OS keyring (Secret Service)"
	switch runtime.GOOS {
	case "darwin":
		d = "OS keyring (macOS Keychain)"
	case "windows":
		d = "OS keyring (Windows Credential Manager)"
	}
	if k.hung.Load() {
		d += fmt.Sprintf(", not answering (no reply within %s)", k.timeout)
	}
	return d
}

func (k *keyringStore) Get(account string) (string, error) {
	if err := checkAccount(account); err != nil {
		return "", err
	}
	v, err := k.call("get", func() (string, error) { return k.api.Get(Service, account) })
	if errors.Is(err, keyring.ErrNotFound) {
		return "", ErrNotFound
	}
	return v, err
}

func (k *keyringStore) Set(account, secret string) error {
	if err := checkAccount(account); err != nil {
		return err
	}
	_, err := k.call("set", func() (string, error) { return "", k.api.Set(Service, account, secret) })
	return err
}

func (k *keyringStore) Delete(account string) error {
	if err := checkAccount(account); err != nil {
		return err
	}
	_, err := k.call("delete", func() (string, error) { return "", k.api.Delete(Service, account) })
	if errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return err
}

// probe reports whether the keyring answers: found or not-found both count.
func (k *keyringStore) probe() error {
	_, err := k.Get(probeAccount)
	if err == nil || errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// call runs fn in its own goroutine and gives up after k.timeout. Go cannot
// cancel the blocked D-Bus call, so on timeout the goroutine is abandoned; it
// writes to a buffered channel nobody reads and then exits if the keyring
// ever answers. A timed-out Set may therefore still land later, which is
// harmless: the caller sees an error and will retry or re-login.
func (k *keyringStore) call(op string, fn func() (string, error)) (string, error) {
	if n := k.running.Load(); n >= maxHanging {
		k.hung.Store(true)
		return "", &TimeoutError{Op: op, After: k.timeout, Blocked: int(n)}
	}
	type result struct {
		v   string
		err error
	}
	done := make(chan result, 1)
	k.running.Add(1)
	go func() {
		defer k.running.Add(-1)
		v, err := fn()
		done <- result{v, err}
	}()
	timer := time.NewTimer(k.timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		k.hung.Store(false)
		if r.err != nil && !errors.Is(r.err, keyring.ErrNotFound) {
			return "", fmt.Errorf("secrets: keyring %s: %w", op, r.err)
		}
		return r.v, r.err
	case <-timer.C:
		k.hung.Store(true)
		return "", &TimeoutError{Op: op, After: k.timeout}
	}
}

// TimeoutError is the error of a keyring call that got no answer within the
// timeout (a keyring waiting on an unlock prompt nobody sees, or a hung
// Secret Service), or that was refused at once because earlier calls are
// still waiting. errors.Is(err, ErrTimeout) reports true for it.
type TimeoutError struct {
	// Op is the call: get, set or delete.
	Op string
	// After is the per-call timeout.
	After time.Duration
	// Blocked, when non-zero, is how many earlier calls are still waiting;
	// the call was then not even tried.
	Blocked int
}

func (e *TimeoutError) Error() string {
	if e.Blocked > 0 {
		return fmt.Sprintf("secrets: keyring %s: the OS keyring is not answering (%d earlier calls are still waiting)", e.Op, e.Blocked)
	}
	return fmt.Sprintf("secrets: keyring %s: the OS keyring did not answer within %s (is it locked, or is its service hung?)", e.Op, e.After)
}

// Is makes errors.Is(err, ErrTimeout) hold.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// keyringReason turns a keyring error into a few words for Describe and for
// error messages, so `agent status` says "no D-Bus session bus" rather than a
// raw D-Bus error string. Matching is on text because go-keyring and godbus
// return unexported or untyped errors for these cases.
func keyringReason(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, ErrTimeout) {
		return "keyring did not answer in time"
	}
	// Classify the go-keyring/godbus error, not our wrapping; stop there,
	// because unwrapping further would drop the "dial unix" context.
	for strings.HasPrefix(err.Error(), "secrets: ") {
		inner := errors.Unwrap(err)
		if inner == nil {
			break
		}
		err = inner
	}
	if errors.Is(err, errNoSessionBus) {
		return "no D-Bus session bus"
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "dbus-launch"),
		strings.Contains(msg, "couldn't determine address of session bus"):
		return "no D-Bus session bus"
	case strings.Contains(msg, "dial unix"), strings.Contains(msg, "connect:"),
		strings.Contains(msg, "connection refused"):
		return "D-Bus session bus not reachable"
	case strings.Contains(msg, "org.freedesktop.secrets"),
		strings.Contains(msg, "ServiceUnknown"),
		strings.Contains(msg, "not provided by any .service files"):
		return "no Secret Service on the session bus"
	case strings.Contains(msg, "unlock"), strings.Contains(msg, "IsLocked"):
		return "keyring is locked"
	case strings.Contains(msg, "Object does not exist"), strings.Contains(msg, "NoSuchObject"):
		return "no default keyring collection"
	}
	const max = 80
	if len(msg) > max {
		msg = msg[:max] + "…"
	}
	return "keyring error: " + msg
}
