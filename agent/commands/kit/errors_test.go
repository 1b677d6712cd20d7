package kit

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// One mapping turns native and rack-proxy answers into codes, and the
// typed error keeps the gateway's error as its cause.
func TestGatewayErrIsTheOneMapping(t *testing.T) {
	t.Parallel()
	proxy := func(status int, body string) error {
		return gateway.NewProxyError("GET", &gateway.Raw{Status: status, Body: []byte(body), URL: "https://gw/api/v1/rack-proxy/apps"})
	}
	native := func(status int, body string) error {
		return gateway.NewAPIError("GET", &gateway.Raw{Status: status, Body: []byte(body), URL: "https://gw/api/v1/info"})
	}
	cases := []struct {
		err       error
		code, msg string
	}{
		{proxy(404, `{"error":"no such app: x"}`), ipc.CodeNotFound, "no such app: x"},
		{proxy(403, "You don't have permission to run processes.\n"), ipc.CodeForbidden, "You don't have permission to run processes."},
		{proxy(403, `{"Error":"rack disabled"}`), ipc.CodeForbidden, "rack disabled"},
		{proxy(500, ""), ipc.CodeGateway, "response status 500"},
		{proxy(401, "authentication failed: session expired\n"), ipc.CodeSessionExpired, "authentication failed: session expired"},
		{proxy(401, "Multi-factor authentication is required for this action\n"), ipc.CodeGateway, "Multi-factor authentication is required for this action"},
		{native(401, `{"error":"authentication failed: session revoked"}`), ipc.CodeSessionExpired, "authentication failed: session revoked"},
		{native(500, `{"error":"failed to load user profile"}`), ipc.CodeGateway, "the gateway at https://gw failed (HTTP 500): failed to load user profile"},
	}
	for _, c := range cases {
		got := ipc.AsError(GatewayErr(nil, c.err))
		if got.Code != c.code || got.Message != c.msg {
			t.Errorf("%v: got %s %q, want %s %q", c.err, got.Code, got.Message, c.code, c.msg)
		}
		var ae *gateway.APIError
		if !errors.As(got, &ae) || ae.Status == 0 {
			t.Errorf("%v: the cause is lost", c.err)
		}
	}
	if e := ipc.AsError(GatewayErr(nil, &gateway.NetError{URL: "https://gw", Err: errors.New("refused")})); e.Code != ipc.CodeGatewayUnreachable {
		t.Errorf("net error: %s", e.Code)
	}
}

// What a server sends is shown capped, inert, and with the status when the
// words alone would hide what happened.
func TestGatewayErrBoundsAndNamesTheStatus(t *testing.T) {
	t.Parallel()
	proxy := func(status int, body string) error {
		return gateway.NewProxyError("GET", &gateway.Raw{Status: status, Body: []byte(body), URL: "https://gw/api/v1/rack-proxy/apps"})
	}
	native := func(status int, body string) error {
		return gateway.NewAPIError("GET", &gateway.Raw{Status: status, Body: []byte(body), URL: "https://gw/api/v1/info"})
	}
	page := "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"
	cases := []struct {
		err       error
		code, msg string
	}{
		{proxy(502, page), ipc.CodeGateway, "gateway answered 502 Bad Gateway"},
		{proxy(503, "upstream connect error or disconnect/reset before headers\n"), ipc.CodeGateway, "gateway answered 503 Service Unavailable: upstream connect error or disconnect/reset before headers"},
		{proxy(502, "bad gateway"), ipc.CodeGateway, "gateway answered 502 Bad Gateway"},
		{proxy(404, "<!DOCTYPE html><html><title>Not here</title></html>"), ipc.CodeNotFound, "gateway answered 404 Not Found: Not here"},
		{native(502, page), ipc.CodeGateway, "the gateway at https://gw failed (HTTP 502): 502 Bad Gateway"},
		// The rack's own JSON error on a 500 stays the rack's words.
		{proxy(500, `{"error":"manifest validation failed: x"}`), ipc.CodeGateway, "manifest validation failed: x"},
		{proxy(400, "\x1b[31mred\x1b[0m"), ipc.CodeGateway, `\x1b[31mred\x1b[0m`},
	}
	for _, c := range cases {
		got := ipc.AsError(GatewayErr(nil, c.err))
		if got.Code != c.code || got.Message != c.msg {
			t.Errorf("%v: got %s %q, want %s %q", c.err, got.Code, got.Message, c.code, c.msg)
		}
	}
	huge := `{"error":"x","message":"\u001b[2J` + strings.Repeat("A", 200<<10) + `"}`
	got := ipc.AsError(GatewayErr(nil, native(400, huge)))
	if len(got.Message) > 4<<10 || strings.ContainsRune(got.Message, 0x1b) || !strings.HasSuffix(got.Message, "…(truncated)") {
		t.Errorf("a 200 KB message reached the user as %d bytes (ESC: %v)", len(got.Message), strings.ContainsRune(got.Message, 0x1b))
	}
}

// A 429 says when to try again, from its Retry-After.
func TestGatewayErrRateLimitSaysWhen(t *testing.T) {
	t.Parallel()
	limited := func(retryAfter string) error {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return gateway.NewAPIError("POST", &gateway.Raw{Status: 429, Header: h, URL: "https://gw/api/v1/auth/cli/start",
			Body: []byte(`{"error":"rate limit exceeded","message":"too many authentication attempts, please try again later"}`)})
	}
	for ra, want := range map[string]string{
		"30":  "rate limited by the gateway (HTTP 429); try again in 30 s",
		"90":  "rate limited by the gateway (HTTP 429); try again in 1 min 30 s",
		"120": "rate limited by the gateway (HTTP 429); try again in 2 minutes",
		"":    "rate limited by the gateway (HTTP 429); try again in a moment",
	} {
		if got := ipc.AsError(GatewayErr(nil, limited(ra))); got.Code != ipc.CodeGateway || got.Message != want {
			t.Errorf("Retry-After %q: %s %q, want %q", ra, got.Code, got.Message, want)
		}
	}
}
