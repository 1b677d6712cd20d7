package service

import (
	"os"
	"path/filepath"

	"github.com/rack-gateway/rack-gateway/platform/paths"
)

// FromEnvironment returns the Options for installing executable for the
// current user, from this process's environment: the state directory
// ($XDG_STATE_HOME), a config directory other than the default
// ($GATEWAY_CLI_CONFIG_DIR) and the agent log.
func FromEnvironment(executable string) (Options, error) {
	o := Options{Executable: executable}
	if x := os.Getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		o.StateHome = filepath.Clean(x)
	}
	if d := os.Getenv(paths.ConfigDirEnv); d != "" {
		// The unit always makes ~/.config/rack-gateway writable.
		home, _ := os.UserHomeDir()
		def := filepath.Join(home, ".config", paths.AppName)
		if abs, err := filepath.Abs(d); err == nil && filepath.Clean(abs) != def {
			o.ConfigDirs = append(o.ConfigDirs, filepath.Clean(abs))
		}
	}
	log, err := paths.AgentLogPath()
	if err != nil {
		return o, err
	}
	o.LogPath = log
	return o, nil
}
