package paths

import (
	"path/filepath"
	"runtime"
)

// ServiceName names the agent's per-user OS service: the systemd user unit
// is ServiceName+".service".
const ServiceName = "rack-gateway-agent"

// ServiceLabel is the agent's launchd label on macOS (reverse DNS, as
// launchd expects); the LaunchAgent plist is ServiceLabel+".plist".
const ServiceLabel = "com.github.rack-gateway.agent"

// ServiceFile returns where `rack-gateway agent install` puts the per-user
// service definition on this OS:
// ~/.config/systemd/user/rack-gateway-agent.service on Linux,
// ~/Library/LaunchAgents/com.github.rack-gateway.agent.plist on macOS, and
// "" where there is none (Windows has no per-user service; the agent starts
// on demand there). The thin CLI checks that this file exists to decide
// whether to start the agent through the service manager; it never parses
// it.
func ServiceFile() (string, error) {
	return serviceFileFor(runtime.GOOS)
}

func serviceFileFor(goos string) (string, error) {
	switch goos {
	case "windows":
		return "", nil
	case "darwin":
		home, err := homeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, "Library", "LaunchAgents", ServiceLabel+".plist"), nil
	default:
		// Where kardianos/service writes a user unit: $HOME/.config, not
		// $XDG_CONFIG_HOME.
		home, err := homeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, ".config", "systemd", "user", ServiceName+".service"), nil
	}
}

// ServiceEnabledLink returns the symlink `systemctl --user enable` makes for
// the agent's unit (Linux only, else ""). It also exists when the user
// enabled the unit a package installed in /usr/lib/systemd/user, which
// leaves no file at ServiceFile.
func ServiceEnabledLink() (string, error) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		return "", nil
	}
	home, err := homeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".config", "systemd", "user", "default.target.wants", ServiceName+".service"), nil
}
