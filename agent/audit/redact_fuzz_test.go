package audit

import (
	"slices"
	"strings"
	"testing"
)

var secretFlags = []string{"--api-token", "--mfa-code", "--password", "--token"}

func fuzzArgv(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

// consumed reports which arguments are a value flag's separate value, as
// pflag (and so the redactor) reads them: the word after a secret flag
// anywhere, or after a body flag before "--".
func consumed(argv []string) []bool {
	out := make([]bool, len(argv))
	after := false
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if a == "--" && !after {
			after = true
			continue
		}
		takes := slices.Contains(secretFlags, a) ||
			(!after && (a == "-d" || a == "--data" || a == "-f" || a == "--field"))
		if takes && i+1 < len(argv) {
			out[i+1] = true
			i++
		}
	}
	return out
}

// FuzzRedact checks Redact's contract on any command line: one output
// argument per input argument, argv untouched, idempotent, and the value of
// every secret flag (--api-token, --mfa-code, --password, --token; both
// forms, anywhere) gone.
func FuzzRedact(f *testing.F) {
	for _, c := range []string{
		"racks\x00--api-token\x00abc",
		"--mfa-code=123456\x00apps\x00delete\x00x",
		"env\x00set\x00FOO=bar\x00DATABASE_URL=postgres://u:p@h/db\x00-a\x00app",
		"run\x00web\x00--\x00bash\x00-c\x00DB_PASSWORD=s3cret ./m --token abc",
		"api\x00/x\x00-d\x00--password\x00hunter2",
		"api\x00/x\x00-f\x00--password=hunter2",
		"-d\x00-d\x00--password\x00hunter2",
		"exec\x00p\x00--\x00curl\x00-H\x00Authorization: Bearer abc.def",
		"x\x00--token=\x00--token\x00",
		"login\x00--token\x00Zk3q_9vLx-2mPa7QeRt0uYb5NcWd8HjKs1oIgFhAl4E.totp.123456",
		"-1\x00-2.5\x00--\x00--\x00A=1",
	} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		argv := fuzzArgv(s)
		orig := slices.Clone(argv)
		out := Redact(argv)
		if len(out) != len(argv) || (argv == nil) != (out == nil) {
			t.Fatalf("Redact(%q) = %q", argv, out)
		}
		if !slices.Equal(argv, orig) {
			t.Fatalf("Redact changed its argv")
		}
		if again := Redact(out); !slices.Equal(again, out) {
			t.Fatalf("Redact is not idempotent:\n%q\n%q\n%q", argv, out, again)
		}
		taken := consumed(argv)
		for i, a := range argv {
			for _, fl := range secretFlags {
				if v, ok := strings.CutPrefix(a, fl+"="); ok && v != "" &&
					!strings.Contains(fl+"="+Redacted, v) && strings.Contains(out[i], v) {
					t.Fatalf("%s's value survives: %q -> %q", fl, a, out[i])
				}
				if a == fl && !taken[i] && i+1 < len(argv) && argv[i+1] != "" && out[i+1] != Redacted {
					t.Fatalf("%s's value survives: %q -> %q", fl, argv, out)
				}
			}
		}
	})
}

// token makes a credential-shaped string from seed: a 43-character session
// token (base64url, mixed case and digits) or an rgw_ API token.
func token(seed []byte, api bool) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	n := 43
	if api {
		n = 44
	}
	b := make([]byte, n)
	for i := range b {
		c := byte(i * 37)
		if len(seed) > 0 {
			c += seed[i%len(seed)] * byte(i+1)
		}
		b[i] = alphabet[c%64]
	}
	// Mixed upper case, lower case and digits, as a random token is.
	b[0], b[1], b[2] = 'Q', 'z', '7'
	if api {
		return "rgw_" + string(b) + "="
	}
	return string(b)
}

// FuzzRedactToken puts a session or API token inside any argument of any
// command line, with any text around it, and checks that it never reaches
// the audit log whole.
func FuzzRedactToken(f *testing.F) {
	f.Add("racks", "", "", []byte("seed"), false, uint8(1))
	f.Add("login\x00--token", "", ".totp.123456", []byte{1, 2, 3}, false, uint8(2))
	f.Add("api\x00/x\x00-H", "Authorization: Bearer ", "", []byte{9}, true, uint8(3))
	f.Add("exec\x00web\x00--\x00env", "SESSION=", "", []byte{7, 7}, false, uint8(4))
	f.Add("x", "https://u:", "@host/p", []byte{3}, true, uint8(0))
	f.Add("env\x00set", "K=", "", []byte{5}, true, uint8(2))
	f.Add("x", "{\"token\": \"", "\"}", []byte{5}, false, uint8(1))
	f.Add("x", "-d", "", []byte{5}, false, uint8(1))
	f.Fuzz(func(t *testing.T, line, before, after string, seed []byte, api bool, pos uint8) {
		tok := token(seed, api)
		argv := fuzzArgv(line)
		i := int(pos) % (len(argv) + 1)
		argv = slices.Insert(argv, i, before+tok+after)
		if strings.Count(strings.Join(argv, "\x00"), tok) > 1 {
			return // the token also stands elsewhere, spelt out by the fuzzer
		}
		out := Redact(argv)
		for j, o := range out {
			if strings.Contains(o, tok) {
				t.Fatalf("token survives in argument %d: %q -> %q", j, argv[j], o)
			}
		}
	})
}
