package kit

import (
	"errors"

	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/platform/secrets"
)

// StoreErr turns a secret-store failure into an error the user can act on.
// A keyring that is there but does not answer (locked behind a prompt
// nobody sees, or hung) is said as such, with the way out, and never as
// "not logged in": the token is probably safe in it.
func StoreErr(err error) error {
	if err == nil {
		return nil
	}
	var te *secrets.TimeoutError
	if errors.As(err, &te) {
		msg := "the OS keyring did not answer within " + te.After.String()
		if te.Blocked > 0 {
			msg = "the OS keyring is not answering (earlier calls are still waiting)"
		}
		return ipc.Errorf(ipc.CodeKeyring, "%s; unlock it or set %s=file", msg, secrets.EnvBackend).
			WithHint("A locked keyring waits for an unlock prompt; with %s=file the agent keeps tokens in a 0600 file instead (log in again there).", secrets.EnvBackend)
	}
	return ipc.Wrap(ipc.CodeSecretStore, err, "%v", err)
}

// ConfigErr is a config.json that cannot be read or written. A secret
// store failure met on the way (loading a profile opens its store) keeps
// its own words.
func ConfigErr(err error) error {
	var te *secrets.TimeoutError
	if errors.As(err, &te) {
		return StoreErr(err)
	}
	return ipc.Wrap(ipc.CodeConfig, err, "%v", err)
}
