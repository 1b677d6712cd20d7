package transport

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
)

// appName names the runtime directory and the pipe.
const appName = "rack-gateway"

// RuntimeDir returns the per-user directory that holds the agent's status
// file, creating it if needed: %LocalAppData%\rack-gateway. Windows has no
// mode bits to verify; %LocalAppData% is already ACL'd to the user, and the
// agent socket itself is a named pipe (see SocketPath), not a file here.
func RuntimeDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("locating the runtime directory: %w", err)
	}
	dir := filepath.Join(base, appName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating runtime directory %s: %w", dir, err)
	}
	return dir, nil
}

// SocketPath returns the agent's named pipe, \\.\pipe\rack-gateway-<username>.
// The pipe namespace is machine-wide, so the name only avoids collisions;
// access control comes from the pipe's DACL (Listen) and the owner check
// in Dial.
func SocketPath() (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("looking up the current user: %w", err)
	}
	return `\\.\pipe\` + appName + "-" + pipeUserPart(u.Username), nil
}

// pipeUserPart turns "DOMAIN\user" into "user" and replaces characters
// that are awkward in a pipe name (a backslash would start a new path
// component).
func pipeUserPart(name string) string {
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || strings.ContainsRune(`\/:*?"<>|`, r) {
			return '_'
		}
		return r
	}, name)
	if name == "" {
		name = "user"
	}
	return name
}
