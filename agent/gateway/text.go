package gateway

import (
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxTextBytes caps any gateway or rack text the user is shown: an error
// message is a sentence, and a server that answers 200 KB (or an endless
// HTML page) must not flood the terminal.
const MaxTextBytes = 2 << 10

// truncatedMark ends a text that SafeText cut.
const truncatedMark = "…(truncated)"

// SafeText makes server-supplied text fit for a terminal: invalid UTF-8
// becomes U+FFFD, control characters other than newline and tab (ESC and
// the rest of C0, DEL, C1) and the bidirectional overrides that reorder
// what is displayed are shown escaped (\x1b, \u202e) instead of acting on
// the terminal, carriage returns become newlines (a bare \r would let the
// text overwrite what came before it on the line), surrounding space is
// trimmed, and the result is cut to MaxTextBytes on a character boundary.
func SafeText(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	var b strings.Builder
	b.Grow(min(len(s), MaxTextBytes+len(truncatedMark)))
	for i, r := range s {
		piece := ""
		switch {
		case r == utf8.RuneError && isInvalidAt(s, i):
			piece = "\uFFFD"
		case r == '\n' || r == '\t':
			piece = string(r)
		case r == '\r' || r == '\u2028' || r == '\u2029':
			piece = "\n"
		case r < 0x20 || r == 0x7f:
			piece = fmt.Sprintf(`\x%02x`, r)
		case r >= 0x80 && r <= 0x9f, isBidiControl(r):
			piece = fmt.Sprintf(`\u%04x`, r)
		default:
			piece = string(r)
		}
		if b.Len()+len(piece) > MaxTextBytes {
			b.WriteString(truncatedMark)
			return b.String()
		}
		b.WriteString(piece)
	}
	return b.String()
}

// isInvalidAt tells an invalid byte at s[i] from a real U+FFFD in s.
func isInvalidAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size <= 1
}

// isBidiControl reports the explicit direction marks, embeddings,
// overrides and isolates: they make a terminal show text in another order
// than it is.
func isBidiControl(r rune) bool {
	return r == '\u200e' || r == '\u200f' || r == '\u061c' ||
		(r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069')
}

// StatusLine is "502 Bad Gateway": the code and its standard text.
func StatusLine(status int) string {
	if t := http.StatusText(status); t != "" {
		return fmt.Sprintf("%d %s", status, t)
	}
	return fmt.Sprintf("%d", status)
}

var (
	htmlStart   = regexp.MustCompile(`(?is)^\s*(<!doctype html|<html|<head|<body|<title|<center|<h1|<!--)`)
	htmlTitle   = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	htmlNoise   = regexp.MustCompile(`(?is)<(script|style|head)[^>]*>.*?</(script|style|head)>`)
	htmlTag     = regexp.MustCompile(`(?s)<[^>]*>`)
	htmlSpacing = regexp.MustCompile(`\s+`)
)

// IsHTML reports whether body is a web page (a load balancer's or a
// proxy's error page) rather than words meant for the CLI.
func IsHTML(body string) bool { return htmlStart.MatchString(body) }

// pageText reduces an HTML page to what it says: its title, else its text
// without tags, on one line.
func pageText(page string) string {
	if m := htmlTitle.FindStringSubmatch(page); m != nil {
		if t := oneLine(m[1]); t != "" {
			return t
		}
	}
	return oneLine(htmlTag.ReplaceAllString(htmlNoise.ReplaceAllString(page, " "), " "))
}

func oneLine(s string) string {
	return strings.TrimSpace(htmlSpacing.ReplaceAllString(html.UnescapeString(s), " "))
}
