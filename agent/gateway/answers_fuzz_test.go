package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
)

// fixedAnswer answers every request with one response, as a gateway (or
// whatever answers at its URL: a load balancer, a captive portal) might.
type fixedAnswer struct {
	status int
	ctype  string
	body   []byte
}

func (a fixedAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: a.status, Status: strconv.Itoa(a.status) + " " + http.StatusText(a.status),
		Header: http.Header{"Content-Type": {a.ctype}}, Body: io.NopCloser(bytes.NewReader(a.body)),
		Request: r, ProtoMajor: 1, ProtoMinor: 1,
	}, nil
}

// maxShown is "a few KiB": what a terminal may be shown of server text.
const maxShown = 4 << 10

// terminalSafe fails unless s is fit to print: valid UTF-8, no control
// characters but newline and tab, and short.
func terminalSafe(t *testing.T, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("%s is not valid UTF-8: %q", what, s)
	}
	if len(s) > maxShown+512 {
		t.Fatalf("%s is %d bytes long", what, len(s))
	}
	for _, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			t.Fatalf("%s holds control character %U: %q", what, r, s)
		}
	}
}

var fuzzStatuses = []int{200, 201, 202, 204, 302, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504}

// FuzzGatewayAnswers gives every gateway call any answer: no panic; a
// failure is one of the client's typed errors, naming the status, with
// text fit for a terminal; success only on a 2xx (3xx for logout).
func FuzzGatewayAnswers(f *testing.F) {
	for _, s := range []string{
		`{"auth_url":"https://gw/x","state":"s","code_verifier":"v"}`,
		`{"token":"t","email":"me@example.com","expires_at":"2025-01-02T03:04:05Z","session_id":7,"mfa_verified":true}`,
		`{"enrolled":true,"methods":[{"type":"totp","id":1}],"preferred_method":"totp","recent_step_up_expires_at":"2025-01-02T03:04:05Z"}`,
		`{"user":{"email":"me@example.com","roles":["admin"]},"rack":{"name":"prod"}}`,
		`{"permissions":["convox:apps:list"],"roles":["viewer"]}`,
		`{"options":{"publicKey":{"challenge":"Y2hhbA"}},"session_data":"sd"}`,
		`{"error":"invalid_code","message":"The code is not valid"}`,
		`{"error":{"nested":true},"message":5}`,
		`{"message":"` + strings.Repeat("\x1b[31mX", 5000) + `"}`,
		`<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>`,
		`<html><body><h1>Service Unavailable</h1><script>x()</script></body></html>`,
		"plain text refusal\r\nsecond line\x07",
		"\xff\xfe\x00",
		``,
	} {
		f.Add([]byte(s), uint8(0), "application/json")
		f.Add([]byte(s), uint8(11), "text/html")
	}
	f.Fuzz(func(t *testing.T, body []byte, status uint8, ctype string) {
		st := fuzzStatuses[int(status)%len(fuzzStatuses)]
		c := gateway.New("https://gw.example.com", &http.Client{Transport: fixedAnswer{st, ctype, body}}, "fuzz")
		ctx := context.Background()
		check := func(call string, err error, okStatuses ...int) {
			t.Helper()
			if err == nil {
				for _, s := range okStatuses {
					if s == st {
						return
					}
				}
				t.Fatalf("%s succeeded on a %d answer %q", call, st, body)
			}
			var ae *gateway.APIError
			var br *gateway.BadResponseError
			switch {
			case errors.As(err, &ae):
				if ae.Status != st {
					t.Fatalf("%s: APIError status %d for %d", call, ae.Status, st)
				}
				terminalSafe(t, call+" Text()", ae.Text())
			case errors.As(err, &br):
				if br.Status != st || st/100 != 2 {
					t.Fatalf("%s: BadResponseError %+v for a %d answer", call, br, st)
				}
			default:
				t.Fatalf("%s: untyped error %T %v", call, err, err)
			}
			if !strings.Contains(err.Error(), strconv.Itoa(st)) {
				t.Fatalf("%s: %q does not name the status %d", call, err, st)
			}
			terminalSafe(t, call+" Error()", err.Error())
		}
		_, err := c.StartLogin(ctx)
		check("StartLogin", err, 200)
		_, err = c.CompleteLogin(ctx, gateway.CompleteRequest{State: "s", CodeVerifier: "v"})
		check("CompleteLogin", err, 200, 202)
		_, err = c.MFAStatus(ctx, "tok")
		check("MFAStatus", err, 200)
		_, err = c.Info(ctx, "tok")
		check("Info", err, 200)
		_, err = c.UserPermissions(ctx, "tok")
		check("UserPermissions", err, 200)
		_, err = c.VerifyCode(ctx, "tok", "123456")
		check("VerifyCode", err, 200)
		_, err = c.WebAuthnStart(ctx, "tok")
		check("WebAuthnStart", err, 200)
		_, err = c.WebAuthnVerify(ctx, "tok", "sd", "{}")
		check("WebAuthnVerify", err, 200)
		check("Logout", c.Logout(ctx, "tok"), 302, 303, 200, 204)

		raw := &gateway.Raw{Status: st, Body: body, URL: "https://gw.example.com/api/v1/rack-proxy/apps"}
		pe := gateway.NewProxyError("GET", raw)
		terminalSafe(t, "NewProxyError Text()", pe.Text())
		terminalSafe(t, "NewProxyError Error()", pe.Error())
	})
}
