package ipc

import (
	"sort"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the invocation as JSON, the same document
// encoding/json makes of it (a test holds the two equal, field for
// field). The CLI encodes one invocation per process, and encoding/json's
// first use of a type (reflection over its fields, built once and cached)
// cost more than a tenth of a millisecond of every command; this costs
// microseconds.
func (inv *Invocation) AppendJSON(b []byte) []byte {
	b = append(b, `{"argv":`...)
	b = appendStrings(b, inv.Argv)
	if len(inv.ArgvB64) > 0 {
		b = append(b, `,"argv_b64":`...)
		b = appendStrings(b, inv.ArgvB64)
	}
	b = append(b, `,"cwd":`...)
	b = appendString(b, inv.Cwd)
	b = append(b, `,"env":`...)
	if inv.Env == nil {
		b = append(b, "null"...)
	} else {
		keys := make([]string, 0, len(inv.Env))
		for k := range inv.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, inv.Env[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"tty":{"stdin":`...)
	b = strconv.AppendBool(b, inv.TTY.Stdin)
	b = append(b, `,"stdout":`...)
	b = strconv.AppendBool(b, inv.TTY.Stdout)
	b = append(b, `,"stderr":`...)
	b = strconv.AppendBool(b, inv.TTY.Stderr)
	b = append(b, '}')
	if inv.Size != nil {
		b = append(b, `,"size":{"cols":`...)
		b = strconv.AppendInt(b, int64(inv.Size.Cols), 10)
		b = append(b, `,"rows":`...)
		b = strconv.AppendInt(b, int64(inv.Size.Rows), 10)
		b = append(b, '}')
	}
	b = append(b, `,"pid":`...)
	b = strconv.AppendInt(b, int64(inv.PID), 10)
	b = append(b, `,"version":`...)
	b = appendString(b, inv.Version)
	if inv.TTYName != "" {
		b = append(b, `,"tty_name":`...)
		b = appendString(b, inv.TTYName)
	}
	b = append(b, `,"can_prompt":`...)
	b = strconv.AppendBool(b, inv.CanPrompt)
	return append(b, '}')
}

func appendStrings(b []byte, v []string) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string as encoding/json writes it:
// invalid UTF-8 becomes U+FFFD, and control characters, the HTML
// specials and U+2028/U+2029 are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// exitPrefix and exitSuffix frame the exit message of a command that
// succeeded or failed without an error: {"type":"exit","exit":{"status":N}}
// as MarshalControl writes it.
const (
	exitPrefix = `{"type":"exit","exit":{"status":`
	exitSuffix = `}}`
)

// ParsePlainExit reads the exit message of a run that ended without an
// error, the message every command ends with, without encoding/json (whose
// first use of the Control type is most of a tenth of a millisecond in a
// fresh process). ok is false for any other message: decode it as JSON.
func ParsePlainExit(data []byte) (status int, ok bool) {
	s := string(data)
	if len(s) <= len(exitPrefix)+len(exitSuffix) || s[:len(exitPrefix)] != exitPrefix || s[len(s)-len(exitSuffix):] != exitSuffix {
		return 0, false
	}
	digits := s[len(exitPrefix) : len(s)-len(exitSuffix)]
	if len(digits) > 3 {
		return 0, false
	}
	// Only JSON's own numbers: no sign, no leading zero ("007" is not
	// JSON, though Atoi reads it).
	if digits[0] < '0' || digits[0] > '9' || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
