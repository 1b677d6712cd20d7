// Package buildinfo holds the version stamped into every binary at link time.
//
// Both programs report their own version so that `rack-gateway version` can
// show a CLI and agent that were installed at different times.
package buildinfo

import "strings"

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

// Compare orders two release versions ("v1.2.3", "1.2.3-rc.1"): -1 when a
// is older than b, 0 when they are the same release, 1 when a is newer.
// ok is false when either is not a release version ("dev", a bare commit):
// such builds cannot be ordered, and callers fall back to the protocol's
// capability number.
func Compare(a, b string) (cmp int, ok bool) {
	va, oka := parse(a)
	vb, okb := parse(b)
	if !oka || !okb {
		return 0, false
	}
	for i := 0; i < 3; i++ {
		if va.num[i] != vb.num[i] {
			return sign(va.num[i] - vb.num[i]), true
		}
	}
	// A pre-release comes before its release; two pre-releases compare
	// as text, which orders rc.1 < rc.2 (enough for our tags).
	switch {
	case va.pre == vb.pre:
		return 0, true
	case va.pre == "":
		return 1, true
	case vb.pre == "":
		return -1, true
	case va.pre < vb.pre:
		return -1, true
	default:
		return 1, true
	}
}

type version struct {
	num [3]int
	pre string
}

func parse(s string) (version, bool) {
	var v version
	if len(s) > 0 && s[0] == 'v' {
		s = s[1:]
	}
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i] // build metadata never orders
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		s, v.pre = s[:i], s[i+1:]
		if v.pre == "" {
			return v, false
		}
	}
	part := 0
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == 9 {
				return v, false
			}
			v.num[part] = v.num[part]*10 + int(c-'0')
			digits++
		case c == '.' && digits > 0 && part < 2:
			part++
			digits = 0
		default:
			return v, false
		}
	}
	return v, part == 2 && digits > 0
}

func sign(n int) int {
	if n < 0 {
		return -1
	}
	return 1
}
