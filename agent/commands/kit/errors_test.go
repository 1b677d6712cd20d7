package kit

import (
	"errors"
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
