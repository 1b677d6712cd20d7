package gateway_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
)

func TestSafeText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "  app not found  \n", "app not found"},
		{"newlines and tabs kept", "line one\n\tline two", "line one\n\tline two"},
		{"escape sequences shown, not obeyed", "\x1b[2J\x1b]0;pwned\x07red", `\x1b[2J\x1b]0;pwned\x07red`},
		{"carriage return cannot overwrite", "ok\rFAKE", "ok\nFAKE"},
		{"crlf", "a\r\nb", "a\nb"},
		{"nul and del", "a\x00b\x7fc", `a\x00b\x7fc`},
		{"c1 controls", "a\u009bb", `a\u009bb`},
		{"bidi override", "evil\u202etxt.exe", `evil\u202etxt.exe`},
		{"invalid utf-8", "a\xff\xfeb", "a\uFFFD\uFFFDb"},
		{"real replacement char kept", "a\uFFFDb", "a\uFFFDb"},
		{"unicode kept", "déjà vu ✓", "déjà vu ✓"},
	} {
		if got := gateway.SafeText(tc.in); got != tc.want {
			t.Errorf("%s: SafeText(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestSafeTextCaps(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 200<<10)
	got := gateway.SafeText(long)
	if !strings.HasSuffix(got, "…(truncated)") || len(got) > gateway.MaxTextBytes+len("…(truncated)") {
		t.Fatalf("not capped: %d bytes, ends %q", len(got), got[len(got)-20:])
	}
	if !utf8.ValidString(got) {
		t.Error("cut inside a character")
	}
	// Escapes count toward the cap: a body of ESCs cannot grow past it.
	if got := gateway.SafeText(strings.Repeat("\x1b", 100<<10)); len(got) > gateway.MaxTextBytes+len("…(truncated)") {
		t.Errorf("escaped text not capped: %d bytes", len(got))
	}
}

// A 200 KB JSON message with escape sequences, as a hostile or broken
// gateway sent it, reaches the user capped and inert.
func TestAPIErrorTextIsCappedAndInert(t *testing.T) {
	t.Parallel()
	msg := "\x1b[31m" + strings.Repeat("A", 200<<10)
	body := `{"error":"x","message":"` + strings.ReplaceAll(msg, "\x1b", `\u001b`) + `"}`
	for _, e := range []*gateway.APIError{
		gateway.NewAPIError("GET", &gateway.Raw{Status: 400, Body: []byte(body), URL: "https://gw/api/v1/info"}),
		gateway.NewProxyError("GET", &gateway.Raw{Status: 400, Body: []byte(`{"error":"` + strings.ReplaceAll(msg, "\x1b", `\u001b`) + `"}`), URL: "https://gw/api/v1/rack-proxy/apps"}),
		gateway.NewProxyError("GET", &gateway.Raw{Status: 502, Body: []byte(msg), URL: "https://gw/api/v1/rack-proxy/apps"}),
	} {
		text := e.Text()
		if len(text) > 4<<10 || strings.ContainsRune(text, 0x1b) || !strings.HasSuffix(text, "…(truncated)") {
			t.Errorf("%d bytes, ESC=%v: %.60q", len(text), strings.ContainsRune(text, 0x1b), text)
		}
		if strings.ContainsRune(e.Error(), 0x1b) {
			t.Errorf("Error() carries ESC")
		}
	}
}

func TestHTMLPageIsReducedToItsText(t *testing.T) {
	t.Parallel()
	nginx := "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	untitled := "<!DOCTYPE html><html><head><style>p{}</style></head><body><p>Service &amp; rack   down</p><script>x()</script></body></html>"
	for _, tc := range []struct {
		e    *gateway.APIError
		want string
	}{
		{gateway.NewProxyError("GET", &gateway.Raw{Status: 502, Body: []byte(nginx)}), "502 Bad Gateway"},
		{gateway.NewAPIError("GET", &gateway.Raw{Status: 502, Body: []byte(nginx)}), "502 Bad Gateway"},
		{gateway.NewProxyError("GET", &gateway.Raw{Status: 503, Body: []byte(untitled)}), "Service & rack down"},
	} {
		if !tc.e.Page || tc.e.Text() != tc.want {
			t.Errorf("page=%v text=%q, want %q", tc.e.Page, tc.e.Text(), tc.want)
		}
	}
	if e := gateway.NewProxyError("GET", &gateway.Raw{Status: 403, Body: []byte("You don't have permission to run processes.\n")}); e.Page {
		t.Error("a text refusal taken for a page")
	}
}
