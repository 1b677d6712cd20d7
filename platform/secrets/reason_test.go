package secrets

import (
	"errors"
	"fmt"
	"testing"
)

func TestKeyringReason(t *testing.T) {
	wrap := func(s string) error { return fmt.Errorf("secrets: keyring get: %w", errors.New(s)) }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("secrets: keyring get: x: %w", ErrTimeout), "keyring did not answer in time"},
		{wrap(`exec: "dbus-launch": executable file not found in $PATH`), "no D-Bus session bus"},
		{wrap("dial unix /nope: connect: no such file or directory"), "D-Bus session bus not reachable"},
		{wrap("The name org.freedesktop.secrets was not provided by any .service files"), "no Secret Service on the session bus"},
		{wrap("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'"), "keyring is locked"},
		{wrap("something odd"), "keyring error: something odd"},
	} {
		if got := keyringReason(tc.err); got != tc.want {
			t.Errorf("keyringReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
