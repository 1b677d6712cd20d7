// Package paths resolves the per-user directories the CLI and the agent share
// (config, state, logs) and provides the small filesystem primitives both need
// to keep those directories private: EnsurePrivateDir and WriteFileAtomic.
//
// It is pure Go with no dependencies outside the standard library because the
// thin CLI imports it, and the CLI must stay free of keyring and cgo code.
package paths

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// AppName is the directory name used under every per-user base directory.
const AppName = "rack-gateway"

// ConfigDirEnv overrides the config directory, exactly as the upstream CLI
// honours it (docs/gateway-protocol.md, "Config file"), so both programs read the same config.json.
const ConfigDirEnv = "GATEWAY_CLI_CONFIG_DIR"

// ConfigDir returns the directory holding config.json. The order matches the
// upstream CLI so that a user switching between the two sees one config:
// flagValue (from --config) if non-empty, else $GATEWAY_CLI_CONFIG_DIR, else
// $HOME/.config/rack-gateway, with %USERPROFILE% standing in for an unset HOME
// (the usual case on Windows). It does not create the directory: callers that
// write there use EnsurePrivateDir first.
func ConfigDir(flagValue string) (string, error) {
	if flagValue != "" {
		return filepath.Clean(flagValue), nil
	}
	if dir := os.Getenv(ConfigDirEnv); dir != "" {
		return filepath.Clean(dir), nil
	}
	home, err := homeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".config", AppName), nil
}

// StateDir returns (and creates, mode 0700) the directory for the agent's log,
// audit log and other state that is not configuration:
// $XDG_STATE_HOME/rack-gateway when XDG_STATE_HOME is an absolute path (the
// XDG spec says relative values must be ignored), else the platform default:
// ~/.local/state/rack-gateway on Linux and other Unix systems,
// ~/Library/Logs/rack-gateway on macOS (where Console.app looks for logs), and
// %LOCALAPPDATA%\rack-gateway on Windows (not roaming: logs are per machine).
func StateDir() (string, error) {
	dir, err := stateDirPath()
	if err != nil {
		return "", err
	}
	if err := EnsurePrivateDir(dir); err != nil {
		return "", err
	}
	return dir, nil
}

func stateDirPath() (string, error) {
	if x := os.Getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, AppName), nil
	}
	switch runtime.GOOS {
	case "windows":
		if local := os.Getenv("LOCALAPPDATA"); local != "" {
			return filepath.Join(local, AppName), nil
		}
		return "", errors.New("paths: %LOCALAPPDATA% is not set")
	case "darwin":
		home, err := homeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, "Library", "Logs", AppName), nil
	default:
		home, err := homeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, ".local", "state", AppName), nil
	}
}

// AgentLogPath returns StateDir()/agent.log, creating the state directory so
// the caller can open the file straight away.
func AgentLogPath() (string, error) {
	dir, err := StateDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "agent.log"), nil
}

// homeDir follows the upstream CLI: $HOME first, then %USERPROFILE%. We read
// the variables ourselves rather than only calling os.UserHomeDir because on
// Windows os.UserHomeDir ignores HOME, and users running Git Bash or MSYS
// expect HOME to win as it does upstream.
func homeDir() (string, error) {
	if h := os.Getenv("HOME"); h != "" {
		return h, nil
	}
	if h := os.Getenv("USERPROFILE"); h != "" {
		return h, nil
	}
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return h, nil
	}
	return "", errors.New("paths: cannot find the home directory: neither $HOME nor %USERPROFILE% is set")
}

// EnsurePrivateDir creates dir (and parents) with mode 0700 if needed, then
// checks that dir is a real directory (not a symlink another user could have
// planted), owned by the current user, with no group or other permission
// bits. Loose bits on a directory we own are tightened with chmod rather than
// reported, because an old umask or a copied dotfile is the usual cause and
// the fix is safe; anything we cannot fix is an error naming the problem.
//
// On Windows, ownership and mode bits do not describe access (ACLs do, and
// directories under the user profile inherit private ACLs), so only the
// directory and not-a-reparse-point checks apply there.
func EnsurePrivateDir(dir string) error {
	if dir == "" {
		return errors.New("paths: empty directory path")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("paths: creating %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("paths: checking %s: %w", dir, err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("paths: %s is a symlink; refusing to keep private files behind it (remove it or point the setting at the real directory)", dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("paths: %s exists but is not a directory", dir)
	}
	return checkOwnerAndMode(dir, fi)
}
