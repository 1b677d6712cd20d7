package audit

import (
	"regexp"
	"strings"
)

// Redacted is what every hidden value is replaced with.
const Redacted = "[redacted]"

// Redact returns a copy of argv that is safe to write to the audit log: no
// token, MFA code, request body or environment value survives, while command
// words, app and rack names, flag names and ordinary arguments are kept so
// that the log still says what was run. argv itself is never modified.
//
// The rules, applied to each argument in turn:
//
//  1. Secret flags. The values of --api-token, --mfa-code, --password and
//     --token are replaced whole, in both the "--flag value" and the
//     "--flag=value" form, anywhere in argv, also after "--", where they
//     belong to a remote command (a remote --password is as secret as ours).
//  2. Body flags, before "--" only. The values of -d/--data are replaced
//     whole; -f/--field keeps the key: "-f KEY=VALUE" becomes
//     "-f KEY=[redacted]". Forms: "-d v", "-dv", "-d=v", "--data v",
//     "--data=v". After "--" these letters belong to the remote program
//     (tail -f, date -d) and are left alone. Like pflag, a value flag takes
//     the next argument whatever it looks like, so a boolean -f in some other
//     command hides its neighbour: the rule errs towards hiding.
//  3. Assignments, before "--". A positional KEY=VALUE whose KEY is shaped
//     like an environment variable name becomes KEY=[redacted]. This covers
//     "env set K=V..." even when the command is misspelt or its flags are
//     misplaced (failed commands are audited too), and "params set", whose
//     values can be secrets as well. After "--" it applies only when the
//     command is "env set" ("env set -- K=V").
//  4. Secrets inside every kept string (flag values, positionals, and each
//     word of a remote command after "--"), listed below.
//
// The secrets of rule 4:
//
//   - an rgw_ API token, with its "=" padding;
//   - a run of 43 or more base64url characters ([A-Za-z0-9_-]) mixing at
//     least two of upper case, lower case and digits (a session token is
//     exactly 43; hex keys and Yubico OTPs are longer), with any
//     ".totp.CODE" or ".webauthn.BLOB" MFA suffix that follows it;
//   - the password of a URL's userinfo: scheme://user:[redacted]@host;
//   - the credential after "Bearer ", and the value of an Authorization,
//     Proxy-Authorization, Cookie, X-Api-Key or X-MFA-* header written as
//     "Name: value" or "Name=value";
//   - the value of NAME=VALUE, or of a JSON "NAME": "value", when NAME
//     contains password, passwd, passphrase, secret, token, credential,
//     api_key, access_key, private_key or auth_key (any case, with "_", "-"
//     or nothing inside), e.g. "DB_PASSWORD=x" in a remote shell command or
//     "?token=x" in a URL;
//   - the value after --api-token, --mfa-code, --password or --token inside
//     a longer string, such as the script given to "bash -c".
//
// Everything else is kept verbatim. Redact is idempotent: redacting an
// already redacted argv changes nothing.
func Redact(argv []string) []string {
	if argv == nil {
		return nil
	}
	out := make([]string, len(argv))
	envSet := isEnvSet(argv)
	afterDashes := false
	var pending func(string) string // what to do with a flag's separate value
	for i, a := range argv {
		if pending != nil {
			out[i] = pending(a)
			pending = nil
			continue
		}
		if a == "--" && !afterDashes {
			afterDashes = true
			out[i] = a
			continue
		}
		if len(a) > 1 && a[0] == '-' && !isNumber(a) {
			prefix, val, hasVal := splitFlag(a)
			rule := flagRule(prefix, afterDashes)
			switch {
			case rule != nil && hasVal:
				out[i] = a[:len(a)-len(val)] + rule(val)
			case rule != nil:
				out[i] = a
				pending = rule
			case hasVal:
				// The flag's own name is scanned for tokens too: "-<token>"
				// splits into "-X" and 42 characters, neither of which
				// looks like a token on its own.
				out[i] = scrubTokens(a[:len(a)-len(val)] + scrub(val))
			default:
				out[i] = scrub(a)
			}
			continue
		}
		if (!afterDashes || envSet) && isAssignment(a) {
			out[i] = redactAssignment(a)
			continue
		}
		out[i] = scrub(a)
	}
	return out
}

// splitFlag splits "--name=value", "-xvalue" and "-x=value" into the flag
// (without "=") and its inline value, the way pflag reads them.
func splitFlag(a string) (name, val string, hasVal bool) {
	if strings.HasPrefix(a, "--") {
		name, val, hasVal = strings.Cut(a, "=")
		return name, val, hasVal
	}
	name = a[:2]
	if len(a) == 2 {
		return name, "", false
	}
	return name, strings.TrimPrefix(a[2:], "="), true
}

// flagRule returns how a flag's value is redacted, or nil to keep it (after
// scrub).
func flagRule(name string, afterDashes bool) func(string) string {
	switch name {
	case "--api-token", "--mfa-code", "--password", "--token":
		return redactAll
	}
	if afterDashes {
		return nil
	}
	switch name {
	case "-d", "--data":
		return redactAll
	case "-f", "--field":
		return redactField
	}
	return nil
}

func redactAll(v string) string {
	if v == "" {
		return "" // an empty value hides nothing and says the flag was empty
	}
	return Redacted
}

// redactField keeps the key of KEY=VALUE (also "KEY:=JSON") so the log says
// which fields were sent; without "=" the whole value could be data.
func redactField(v string) string {
	if k, _, ok := strings.Cut(v, "="); ok {
		return scrub(k) + "=" + Redacted
	}
	return redactAll(v)
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// isAssignment reports a KEY=VALUE argument with an environment-style KEY.
// Paths and URLs ("/apps?x=1") do not match, so api paths are kept.
func isAssignment(a string) bool { return envName.MatchString(a) }

// redactAssignment checks the key too: a padded rgw_ token ends in "=", so
// it is shaped like an assignment with an empty value.
func redactAssignment(a string) string {
	k, v, _ := strings.Cut(a, "=")
	if scrub(k) != k {
		return scrub(a)
	}
	return k + "=" + redactAll(v)
}

// isEnvSet reports whether the words before "--" contain "env" and, later,
// "set". Flags may sit between them ("env -a app set"): such a line fails
// to parse, but it is still audited, so the test is looser than the parser.
func isEnvSet(argv []string) bool {
	sawEnv := false
	for _, a := range argv {
		switch {
		case a == "--":
			return false
		case a == "env":
			sawEnv = true
		case a == "set" && sawEnv:
			return true
		}
	}
	return false
}

// isNumber reports a negative number such as "-1", which is an argument,
// not a flag.
func isNumber(a string) bool {
	for _, c := range a[1:] {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

const secretWord = `(?:pass(?:word|wd|phrase)|secret|token|credential|(?:api|access|private|auth)[_-]?key)`

var (
	// urlPassword finds scheme://user:password@. The password stops at the
	// characters RFC 3986 forbids in userinfo, so "host:8080/x@y" is kept.
	urlPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:)([^\s/?#@]+)@`)
	// authHeader finds a credential-bearing header and its optional scheme.
	authHeader = regexp.MustCompile(`(?i)\b((?:proxy-)?authorization|cookie|x-api-key|x-mfa-[a-z]+)(\s*[:=]\s*(?:[A-Za-z]+\s+)?)(\S+)`)
	bearer     = regexp.MustCompile(`(?i)\b(bearer\s+)(\S+)`)
	// secretAssign finds NAME=VALUE with a secret-sounding NAME; the value
	// may be quoted and stops at whitespace, "&" (URL queries) or ";".
	secretAssign = regexp.MustCompile(`(?i)\b([A-Za-z0-9_]*` + secretWord + `[A-Za-z0-9_]*=)("[^"]*"|'[^']*'|[^\s&;]*)`)
	// secretJSON finds "secret-name": "value" in a JSON text.
	secretJSON = regexp.MustCompile(`(?i)("[^"]*` + secretWord + `[^"]*"\s*:\s*)"(?:[^"\\]|\\.)*"`)
	// secretFlagInText finds a secret flag and its value inside a longer
	// string, e.g. the script given to "bash -c".
	secretFlagInText = regexp.MustCompile(`(--(?:api-token|mfa-code|password|token))(=|\s+)("[^"]*"|'[^']*'|[^\s"']+)`)
)

// scrub applies rule 4 of Redact to one string.
func scrub(s string) string {
	s = urlPassword.ReplaceAllString(s, "${1}"+Redacted+"@")
	s = replaceLast(authHeader, s)
	s = replaceLast(bearer, s)
	s = replaceLast(secretAssign, s)
	s = secretJSON.ReplaceAllString(s, `${1}"`+Redacted+`"`)
	s = replaceLast(secretFlagInText, s)
	return scrubTokens(s)
}

// replaceLast replaces the last submatch of every match of re with Redacted,
// keeping an empty value empty.
func replaceLast(re *regexp.Regexp, s string) string {
	if !re.MatchString(s) {
		return s
	}
	return re.ReplaceAllStringFunc(s, func(m string) string {
		sub := re.FindStringSubmatchIndex(m)
		last := len(sub) - 2
		if sub[last] < 0 || sub[last] == sub[last+1] {
			return m
		}
		return m[:sub[last]] + Redacted + m[sub[last+1]:]
	})
}

// scrubTokens hides rgw_ API tokens and long random base64url runs (session
// tokens, OTPs, keys). It scans runs by hand because Go's regexp has no
// look-around to find where a run starts and ends.
func scrubTokens(s string) string {
	var b strings.Builder
	copied, changed := 0, false
	for i := 0; i < len(s); {
		if !isB64URL(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isB64URL(s[j]) {
			j++
		}
		run := s[i:j]
		cut := -1 // where the redaction starts in s, if anywhere
		if len(run) >= 43 && looksRandom(run) {
			cut = i
		} else if k := strings.Index(run, "rgw_"); k >= 0 && k+4 < len(run) {
			cut = i + k
		}
		if cut >= 0 {
			for j < len(s) && s[j] == '=' {
				j++ // base64 padding belongs to the token
			}
			j = skipMFASuffix(s, j)
			b.WriteString(s[copied:cut])
			b.WriteString(Redacted)
			copied, changed = j, true
		}
		i = j
	}
	if !changed {
		return s
	}
	b.WriteString(s[copied:])
	return b.String()
}

func isB64URL(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// looksRandom requires two of upper case, lower case and digits. A random
// 43-character token misses that with odds below one in a billion, while a
// long lower-case name without digits (a flag, a slug) is kept.
func looksRandom(run string) bool {
	var upper, lower, digit int
	for i := 0; i < len(run); i++ {
		switch c := run[i]; {
		case c >= 'A' && c <= 'Z':
			upper = 1
		case c >= 'a' && c <= 'z':
			lower = 1
		case c >= '0' && c <= '9':
			digit = 1
		}
	}
	return upper+lower+digit >= 2
}

// skipMFASuffix returns the end of a ".method.value" MFA suffix starting at
// j (the gateway's token.totp.123456 credential form), or j if there is none.
func skipMFASuffix(s string, j int) int {
	if j >= len(s) || s[j] != '.' {
		return j
	}
	k := j + 1
	for k < len(s) && (s[k] >= 'a' && s[k] <= 'z' || s[k] == '_') {
		k++
	}
	if k == j+1 || k >= len(s) || s[k] != '.' {
		return j
	}
	k++
	v := k
	for k < len(s) && (isB64URL(s[k]) || s[k] == '+' || s[k] == '/' || s[k] == '=') {
		k++
	}
	if k == v {
		return j
	}
	return k
}
