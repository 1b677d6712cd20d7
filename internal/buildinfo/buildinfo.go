// Package buildinfo holds the version stamped into every binary at link time.
//
// Both programs report their own version so that `rack-gateway version` can
// show a CLI and agent that were installed at different times.
package buildinfo

// Version is set with -ldflags "-X github.com/rack-gateway/rack-gateway/internal/buildinfo.Version=v1.2.3".
var Version = "dev"

// Commit is the git commit the binary was built from, set the same way.
var Commit = ""

// String returns the version with the commit when it is known.
func String() string {
	if Commit == "" {
		return Version
	}
	c := Commit
	if len(c) > 12 {
		c = c[:12]
	}
	return Version + " (" + c + ")"
}
