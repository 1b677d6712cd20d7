package kit

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rack-gateway/rack-gateway/agent/config"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// FuzzGatewayErr turns any failed gateway or rack-proxy answer into the
// error the user reads: always typed and never "internal", the gateway's
// error kept as the cause, the text capped and fit for a terminal, and an
// HTML page (a load balancer's, not the gateway's words) or a gateway 5xx
// named by its status.
func FuzzGatewayErr(f *testing.F) {
	for _, s := range []string{
		`{"error":"unauthorized","message":"session expired"}`,
		`{"error":"forbidden","message":"You do not have permission"}`,
		`{"error":"app not found"}`,
		`{"Error":"\u001b]0;owned\u0007"}`,
		`{"message":"` + strings.Repeat("A", 3<<10) + `"}`,
		`<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503</h1></center></body></html>`,
		`<!-- nothing -->`,
		"MFA required\n",
		"\x1b[2J\x1b[H",
		"\u202eevil",
		``,
	} {
		f.Add([]byte(s), uint16(401), false)
		f.Add([]byte(s), uint16(502), true)
	}
	target := &Target{Name: "prod", URL: "https://gw.example.com", Gateway: &config.Gateway{URL: "https://gw.example.com"}}
	f.Fuzz(func(t *testing.T, body []byte, status uint16, proxy bool) {
		st := 400 + int(status)%200
		raw := &gateway.Raw{Status: st, Body: body, URL: "https://gw.example.com/api/v1/rack-proxy/apps", Header: http.Header{}}
		var ae *gateway.APIError
		if proxy {
			ae = gateway.NewProxyError(http.MethodGet, raw)
		} else {
			ae = gateway.NewAPIError(http.MethodGet, raw)
		}
		for _, tg := range []*Target{nil, target} {
			err := GatewayErr(tg, ae)
			var ie *ipc.Error
			if !errors.As(err, &ie) || ie.Code == "" || ie.Code == ipc.CodeInternal {
				t.Fatalf("GatewayErr(%d %q) = %#v", st, body, err)
			}
			var cause *gateway.APIError
			if !errors.As(err, &cause) || cause != ae {
				t.Fatal("the gateway error is not kept as the cause")
			}
			for what, s := range map[string]string{"message": ie.Message, "hint": ie.Hint} {
				if !utf8.ValidString(s) || len(s) > 4<<10+512 {
					t.Fatalf("%s of %d bytes (valid UTF-8 %v)", what, len(s), utf8.ValidString(s))
				}
				for _, r := range s {
					if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
						t.Fatalf("%s holds control character %U: %q", what, r, s)
					}
				}
			}
			if ie.Message == "" {
				t.Fatalf("empty message for %d %q", st, body)
			}
			named := strings.Contains(ie.Message, strconv.Itoa(st))
			if gateway.IsHTML(strings.TrimSpace(string(body))) && ae.Code == "" && ae.Message == "" && !named {
				t.Fatalf("an HTML page answer does not say its status %d: %q", st, ie.Message)
			}
			if st >= 500 && !proxy && !named {
				t.Fatalf("a gateway %d does not say its status: %q", st, ie.Message)
			}
		}
	})
}
