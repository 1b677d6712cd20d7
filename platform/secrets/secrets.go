// Package secrets stores the agent's session tokens: in the OS keyring when
// one is reachable (Secret Service on Linux, Keychain on macOS, Credential
// Manager on Windows, via github.com/zalando/go-keyring), else in a 0600 JSON
// file inside a 0700 directory, which is what a headless box gets.
//
// Only the agent imports this package; the thin CLI must not link keyring
// code (docs/architecture.md, "Packages"). Values are never logged, and every keyring call has a
// timeout because a locked or wedged Secret Service can block go-keyring
// forever, which would freeze every command waiting on a token.
package secrets

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/platform/paths"
)

// Service is the keyring service name every entry is stored under; the
// account is chosen by the caller (the agent uses the rack name).
const Service = "rack-gateway"

// EnvBackend names the environment variable read when Options.Backend is
// empty, so users and CI can force a backend without a flag.
const EnvBackend = "RACK_GATEWAY_SECRET_STORE"

// Backend names accepted in Options.Backend and EnvBackend.
const (
	BackendAuto    = "auto"
	BackendKeyring = "keyring"
	BackendFile    = "file"
)

// FileName is the name of the fallback file inside Options.FileDir.
const FileName = "credentials.json"

// DefaultTimeout bounds each keyring call when Options.Timeout is zero and
// EnvTimeout is unset.
const DefaultTimeout = 3 * time.Second

// EnvTimeout names the environment variable (a Go duration such as "500ms")
// read when Options.Timeout is zero. Tests use it to keep a hung keyring
// from costing seconds per call.
const EnvTimeout = "RACK_GATEWAY_KEYRING_TIMEOUT"

// ErrNotFound is returned by Store.Get when no secret exists for the account.
var ErrNotFound = errors.New("secrets: no secret stored for this account")

// ErrTimeout is wrapped by the error a keyring call returns when the keyring
// did not answer within Options.Timeout (typically a locked or unresponsive
// Secret Service). Test with errors.Is.
var ErrTimeout = errors.New("secrets: keyring did not answer in time")

// Store is a small account → secret map. Implementations are safe for
// concurrent use.
type Store interface {
	// Get returns the secret for account, or ErrNotFound when there is none.
	Get(account string) (string, error)
	// Set stores secret for account, replacing any previous value.
	Set(account, secret string) error
	// Delete removes the secret for account; it returns nil when there was
	// none, so logout is idempotent.
	Delete(account string) error
	// Kind is "keyring" or "file", for machine-readable status output.
	Kind() string
	// Describe is one line for humans (`agent status`), saying where secrets
	// live and, for the file store, why the keyring is not used.
	Describe() string
}

// Options selects and configures the backend. The zero value means: auto,
// file in the default config directory, 3 s keyring timeout.
type Options struct {
	// Backend is "auto" (default), "keyring" or "file". When empty it is read
	// from $RACK_GATEWAY_SECRET_STORE, then defaults to "auto".
	Backend string
	// FileDir is the directory for the fallback file (credentials.json).
	// Empty means paths.ConfigDir(""). It is created 0700 when the file
	// store is chosen.
	FileDir string
	// Timeout bounds each keyring call; zero means $RACK_GATEWAY_KEYRING_TIMEOUT,
	// then DefaultTimeout.
	Timeout time.Duration
}

// Open returns the Store selected by opts.
//
// With "auto" it probes the keyring once (a Get of a probe account, under the
// timeout): go-keyring's not-found answer proves the keyring works, and an
// error saying there is no keyring (no D-Bus session bus, no Secret Service
// on it, no default collection) selects the file store, whose Describe says
// why in a few words. A keyring that is there but does not answer in time is
// not "no keyring": falling back would hide the user's real tokens behind
// "not logged in", so Open returns the keyring store and each call reports
// the timeout (a *TimeoutError) until the keyring answers again. "keyring"
// returns an error instead of falling back, for users who would rather fail
// than have tokens on disk. "file" skips the keyring.
//
// On Linux the keyring is only tried when a session bus is reachable
// (DBUS_SESSION_BUS_ADDRESS, or a socket at $XDG_RUNTIME_DIR/bus); one is
// never started.
func Open(opts Options) (Store, error) {
	return openWith(opts, goKeyring{})
}

// openWith is Open with the keyring implementation injected, so tests can
// substitute a fake that hangs.
func openWith(opts Options, api keyringAPI) (Store, error) {
	backend, source := opts.Backend, "configuration"
	if backend == "" {
		backend, source = os.Getenv(EnvBackend), EnvBackend
	}
	backend = strings.ToLower(strings.TrimSpace(backend))
	if backend == "" {
		backend = BackendAuto
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
		if v := strings.TrimSpace(os.Getenv(EnvTimeout)); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("secrets: %s=%q is not a positive duration (for example 3s or 500ms)", EnvTimeout, v)
			}
			timeout = d
		}
	}

	switch backend {
	case BackendKeyring:
		ks := newKeyringStore(api, timeout)
		if err := ks.probe(); err != nil && !errors.Is(err, ErrTimeout) {
			// No "secrets:" prefix here: err already carries one.
			return nil, fmt.Errorf("the OS keyring was requested but is unavailable (%s; %s=file stores tokens in a file instead): %w",
				keyringReason(err), EnvBackend, err)
		}
		return ks, nil
	case BackendFile:
		why := "selected in configuration"
		if source == EnvBackend {
			why = "selected by " + EnvBackend + "=file"
		}
		return openFileStore(opts.FileDir, why)
	case BackendAuto:
		ks := newKeyringStore(api, timeout)
		err := ks.probe()
		if err == nil || errors.Is(err, ErrTimeout) {
			return ks, nil
		}
		return openFileStore(opts.FileDir, "no keyring available: "+keyringReason(err))
	default:
		return nil, fmt.Errorf("secrets: unknown secret store %q (from %s); use auto, keyring or file", backend, source)
	}
}

func openFileStore(dir, why string) (Store, error) {
	if dir == "" {
		d, err := paths.ConfigDir("")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return newFileStore(dir, why)
}

func checkAccount(account string) error {
	if account == "" {
		return errors.New("secrets: empty account name")
	}
	return nil
}

// zero overwrites b so a secret does not linger in a buffer the garbage
// collector may not reclaim for a while. Strings cannot be zeroed in Go, so
// this only helps for the byte slices we own (file contents, JSON encodings).
func zero(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
