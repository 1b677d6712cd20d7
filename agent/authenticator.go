package agent

import (
	"fmt"
	"os"
	"strings"

	"github.com/rack-gateway/rack-gateway/platform/fido"
	"github.com/rack-gateway/rack-gateway/platform/fido/soft"
)

// authenticator picks the security-key implementation from
// RACK_GATEWAY_AUTHENTICATOR: unset or "auto" is the build's hardware
// support (libfido2, or none in a pure-Go build); "none" turns WebAuthn
// off; "soft:/path/key.json" is the software authenticator, for the sandbox
// demo and tests only: its key sits in a file.
func authenticator() (fido.Authenticator, error) {
	v := strings.TrimSpace(os.Getenv("RACK_GATEWAY_AUTHENTICATOR"))
	switch {
	case v == "" || v == "auto":
		return fido.Default(), nil
	case v == "none":
		return fido.Unavailable(), nil
	case strings.HasPrefix(v, "soft:"):
		a, err := soft.Load(strings.TrimPrefix(v, "soft:"))
		if err != nil {
			return nil, fmt.Errorf("RACK_GATEWAY_AUTHENTICATOR: %w", err)
		}
		return a, nil
	}
	return nil, fmt.Errorf("RACK_GATEWAY_AUTHENTICATOR=%q: use auto, none or soft:/path/key.json", v)
}
