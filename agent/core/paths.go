package core

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// defaultConfigDir is the config directory for a user who set nothing:
// $HOME/.config/rack-gateway. It deliberately ignores the agent's own
// GATEWAY_CLI_CONFIG_DIR: the agent inherits the environment of whichever
// terminal started it, which says nothing about the next caller.
func defaultConfigDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		if runtime.GOOS == "windows" {
			if h := os.Getenv("USERPROFILE"); h != "" {
				return filepath.Join(h, ".config", "rack-gateway"), nil
			}
		}
		return "", errors.New("cannot find the home directory")
	}
	return filepath.Join(home, ".config", "rack-gateway"), nil
}

// DefaultConfigDir is exported for the server's status endpoint.
func DefaultConfigDir() (string, error) { return defaultConfigDir() }
