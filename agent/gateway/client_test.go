package gateway_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
)

// seen is one request as the server received it.
type seen struct {
	Method, Path string
	Header       http.Header
	Body         []byte
	ContentLen   int64
	Chunked      bool
}

// recorder is a test gateway that records every request and answers with
// the handler's choice.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (r *recorder) last(t *testing.T) seen {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("the server saw no request")
	}
	return r.reqs[len(r.reqs)-1]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// newGateway serves answer behind a recorder and returns a client that uses
// the production HTTP client (no redirects, verified TLS).
func newGateway(t *testing.T, answer http.HandlerFunc) (*gateway.Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		chunked := len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked"
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, seen{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, ContentLen: r.ContentLength, Chunked: chunked})
		rec.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	hc := gateway.NewHTTPClient()
	t.Cleanup(hc.CloseIdleConnections)
	return gateway.New(srv.URL, hc, "rack-gateway-agent/test"), rec
}

func jsonAnswer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func textAnswer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func TestDoSendsBearerJSONAndNoBrowserHeaders(t *testing.T) {
	t.Parallel()
	c, rec := newGateway(t, jsonAnswer(200, `{"ok":true,"n":3}`))
	var out struct {
		OK bool `json:"ok"`
		N  int  `json:"n"`
	}
	status, err := c.Do(context.Background(), gateway.Request{
		Method: http.MethodPost, Path: "/api/v1/things", Token: "tok-123",
		Body: map[string]any{"code": "123456", "trust_device": false},
	}, &out)
	if err != nil || status != 200 {
		t.Fatalf("Do: status %d, err %v", status, err)
	}
	if !out.OK || out.N != 3 {
		t.Fatalf("decoded %+v", out)
	}
	r := rec.last(t)
	if r.Method != http.MethodPost || r.Path != "/api/v1/things" {
		t.Fatalf("request %s %s", r.Method, r.Path)
	}
	for k, want := range map[string]string{
		"Authorization": "Bearer tok-123",
		"Content-Type":  "application/json",
		"Accept":        "application/json",
		"User-Agent":    "rack-gateway-agent/test",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// A gateway treats Origin (and cookies) as a browser; the agent is not one.
	for _, k := range []string{"Origin", "Referer", "Cookie"} {
		if v, ok := r.Header[k]; ok {
			t.Errorf("%s sent: %q", k, v)
		}
	}
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	if body["code"] != "123456" || body["trust_device"] != false || len(body) != 2 {
		t.Fatalf("body %v", body)
	}
}

func TestDoWithoutTokenOrBodySendsNeither(t *testing.T) {
	t.Parallel()
	c, rec := newGateway(t, jsonAnswer(200, `{}`))
	if _, err := c.Do(context.Background(), gateway.Request{Method: http.MethodGet, Path: "/api/v1/health"}, nil); err != nil {
		t.Fatal(err)
	}
	r := rec.last(t)
	if v, ok := r.Header["Authorization"]; ok {
		t.Errorf("Authorization sent without a token: %q", v)
	}
	if v := r.Header.Get("Content-Type"); v != "" {
		t.Errorf("Content-Type %q without a body", v)
	}
	if len(r.Body) != 0 || r.ContentLen > 0 {
		t.Errorf("body %q (length %d) without a body", r.Body, r.ContentLen)
	}
}

func TestDoBaseURLWithPathPrefix(t *testing.T) {
	t.Parallel()
	c, rec := newGateway(t, jsonAnswer(200, `{}`))
	c.BaseURL += "/gw"
	if _, err := c.Do(context.Background(), gateway.Request{Method: http.MethodGet, Path: "/api/v1/info"}, nil); err != nil {
		t.Fatal(err)
	}
	if p := rec.last(t).Path; p != "/gw/api/v1/info" {
		t.Fatalf("path %q", p)
	}
}

func TestDoForwardsMFAHeadersButTokenWins(t *testing.T) {
	t.Parallel()
	c, rec := newGateway(t, jsonAnswer(200, `{}`))
	h := http.Header{}
	h.Set("X-MFA-TOTP", "654321")
	h.Add("X-Extra", "a")
	h.Add("X-Extra", "b")
	h.Set("Authorization", "Bearer from-header")
	if _, err := c.Do(context.Background(), gateway.Request{Method: http.MethodPost, Path: "/api/v1/x", Token: "from-token", Header: h}, nil); err != nil {
		t.Fatal(err)
	}
	r := rec.last(t)
	if got := r.Header.Get("X-MFA-TOTP"); got != "654321" {
		t.Errorf("X-MFA-TOTP = %q", got)
	}
	if got := r.Header.Values("X-Extra"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("X-Extra = %q", got)
	}
	if got := r.Header.Values("Authorization"); len(got) != 1 || got[0] != "Bearer from-token" {
		t.Errorf("Authorization = %q, want only the request's token", got)
	}
	// The caller's header map is not modified by the client.
	if h.Get("Authorization") != "Bearer from-header" || h.Get("Accept") != "" {
		t.Errorf("caller's header changed: %v", h)
	}
}

func TestDoRawSendsRawBodyAsIs(t *testing.T) {
	t.Parallel()
	c, rec := newGateway(t, jsonAnswer(200, `{"url":"object:///tmp/x.tgz"}`))
	data := []byte("\x1f\x8b binary \x00 tarball")
	raw, err := c.DoRaw(context.Background(), gateway.Request{
		Method: http.MethodPost, Path: "/api/v1/rack-proxy/apps/a/objects/tmp/x.tgz", Token: "t",
		Body: gateway.RawBody{ContentType: "application/octet-stream", Data: data},
	})
	if err != nil {
		t.Fatal(err)
	}
	if raw.Status != 200 || !strings.Contains(string(raw.Body), "object:///tmp/x.tgz") {
		t.Fatalf("raw %d %q", raw.Status, raw.Body)
	}
	if raw.URL != c.BaseURL+"/api/v1/rack-proxy/apps/a/objects/tmp/x.tgz" {
		t.Fatalf("raw.URL %q", raw.URL)
	}
	r := rec.last(t)
	if string(r.Body) != string(data) {
		t.Fatalf("body %q, want %q", r.Body, data)
	}
	if got := r.Header.Get("Content-Type"); got != "application/octet-stream" {
		t.Fatalf("Content-Type %q", got)
	}
	if r.ContentLen != int64(len(data)) {
		t.Fatalf("Content-Length %d, want %d", r.ContentLen, len(data))
	}
}

// A progress callback must not change what goes on the wire: the length of
// the body is known, so it is declared, as it is without a callback.
func TestDoRawRawBodyProgressKeepsContentLength(t *testing.T) {
	t.Parallel()
	c, rec := newGateway(t, jsonAnswer(200, `{}`))
	data := []byte(strings.Repeat("0123456789", 10000))
	var last atomic.Int64
	_, err := c.DoRaw(context.Background(), gateway.Request{
		Method: http.MethodPost, Path: "/api/v1/upload",
		Body: gateway.RawBody{ContentType: "application/gzip", Data: data, Progress: func(n int64) { last.Store(n) }},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rec.last(t)
	if string(r.Body) != string(data) {
		t.Fatalf("body of %d bytes, want %d", len(r.Body), len(data))
	}
	if got := last.Load(); got != int64(len(data)) {
		t.Errorf("last progress %d, want %d", got, len(data))
	}
	if r.Chunked || r.ContentLen != int64(len(data)) {
		t.Errorf("sent chunked=%v with Content-Length %d, want Content-Length %d", r.Chunked, r.ContentLen, len(data))
	}
}

func TestDoRawReturnsFailuresUnjudged(t *testing.T) {
	t.Parallel()
	c, _ := newGateway(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-MFA-Required", "step_up")
		jsonAnswer(401, `{"error":"mfa_required"}`)(w, nil)
	})
	raw, err := c.DoRaw(context.Background(), gateway.Request{Method: http.MethodGet, Path: "/api/v1/x"})
	if err != nil {
		t.Fatal(err)
	}
	if raw.Status != 401 || raw.Header.Get("X-MFA-Required") != "step_up" || string(raw.Body) != `{"error":"mfa_required"}` {
		t.Fatalf("raw %d %v %q", raw.Status, raw.Header, raw.Body)
	}
}

func TestDoUnmarshalableBodyIsNotSent(t *testing.T) {
	t.Parallel()
	c, rec := newGateway(t, jsonAnswer(200, `{}`))
	_, err := c.Do(context.Background(), gateway.Request{Method: http.MethodPost, Path: "/api/v1/x", Body: map[string]any{"c": make(chan int)}}, nil)
	if err == nil {
		t.Fatal("no error for a body json cannot encode")
	}
	if rec.count() != 0 {
		t.Fatalf("%d requests sent", rec.count())
	}
}

func TestDoOKStatuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		ok     []int
		err    bool
	}{
		{"default 200", 200, `{"v":1}`, nil, false},
		{"201 not in the default", 201, `{"v":1}`, nil, true},
		{"201 listed", 201, `{"v":1}`, []int{200, 201}, false},
		{"204 listed, nothing to decode", 204, ``, []int{204}, false},
		{"202 listed", 202, `{"v":1}`, []int{200, 202}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newGateway(t, jsonAnswer(tc.status, tc.body))
			var out struct{ V int }
			status, err := c.Do(context.Background(), gateway.Request{Method: http.MethodGet, Path: "/api/v1/x", OK: tc.ok}, &out)
			if status != tc.status {
				t.Errorf("status %d, want %d", status, tc.status)
			}
			if (err != nil) != tc.err {
				t.Fatalf("err %v, want error %v", err, tc.err)
			}
			var ae *gateway.APIError
			if tc.err && (!errors.As(err, &ae) || ae.Status != tc.status) {
				t.Fatalf("err %T %v, want an *APIError with status %d", err, err, tc.status)
			}
			if !tc.err && tc.body != "" && out.V != 1 {
				t.Errorf("decoded %+v", out)
			}
		})
	}
}

func TestDoSuccessThatIsNotJSONIsBadResponse(t *testing.T) {
	t.Parallel()
	c, _ := newGateway(t, textAnswer(200, "<html><body>Welcome to nginx!</body></html>"))
	var out struct{}
	status, err := c.Do(context.Background(), gateway.Request{Method: http.MethodGet, Path: "/api/v1/info"}, &out)
	var bre *gateway.BadResponseError
	if !errors.As(err, &bre) {
		t.Fatalf("err %T %v, want *BadResponseError", err, err)
	}
	if status != 200 || bre.Status != 200 || bre.URL != c.BaseURL+"/api/v1/info" {
		t.Fatalf("status %d, %+v", status, bre)
	}
	if !strings.Contains(bre.Detail, "Welcome to nginx") {
		t.Errorf("detail %q does not quote the body", bre.Detail)
	}
	if msg := bre.Error(); !strings.Contains(msg, "HTTP 200") || !strings.Contains(msg, "is this a rack-gateway URL?") {
		t.Errorf("Error() = %q", msg)
	}
}

func TestAPIErrorText(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 400)
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		code, message     string
		text              string
	}{
		{"message wins", "application/json", `{"error":"forbidden","message":"You need the admin role"}`, 403, "forbidden", "You need the admin role", "You need the admin role"},
		{"error only", "application/json", `{"error":"invalid request"}`, 400, "invalid request", "", "invalid request"},
		{"message only", "application/json", `{"message":"try later"}`, 503, "", "try later", "try later"},
		{"plain text", "text/plain", "404 page not found\n", 404, "", "", "404 page not found"},
		{"error object kept as text", "application/json", `{"error":{"code":"x"}}`, 500, "", "", `{"error":{"code":"x"}}`},
		{"long text cut", "text/plain", long, 502, "", "", strings.Repeat("x", 300) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newGateway(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				w.Header().Set("X-Request-ID", "rid-1")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			_, err := c.Do(context.Background(), gateway.Request{Method: http.MethodDelete, Path: "/api/v1/x"}, nil)
			var ae *gateway.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err %T %v, want *APIError", err, err)
			}
			if ae.Status != tc.status || ae.Method != http.MethodDelete || ae.URL != c.BaseURL+"/api/v1/x" || ae.Convox {
				t.Errorf("error %+v", ae)
			}
			if ae.Code != tc.code || ae.Message != tc.message {
				t.Errorf("code %q message %q, want %q %q", ae.Code, ae.Message, tc.code, tc.message)
			}
			if ae.Header.Get("X-Request-ID") != "rid-1" {
				t.Errorf("header not kept: %v", ae.Header)
			}
			if got := ae.Text(); got != tc.text {
				t.Errorf("Text() = %q, want %q", got, tc.text)
			}
			if got, want := ae.Error(), fmt.Sprintf("gateway answered %d %s: %s", tc.status, http.StatusText(tc.status), tc.text); got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
		})
	}
}

func TestAPIErrorEmptyBodyNamesStatus(t *testing.T) {
	t.Parallel()
	c, _ := newGateway(t, textAnswer(502, "  \n"))
	_, err := c.Do(context.Background(), gateway.Request{Method: http.MethodGet, Path: "/api/v1/x"}, nil)
	var ae *gateway.APIError
	if !errors.As(err, &ae) || ae.Status != 502 {
		t.Fatalf("err %v", err)
	}
	if ae.Text() == "" || !strings.Contains(ae.Error(), "502") {
		t.Fatalf("Text() %q, Error() %q", ae.Text(), ae.Error())
	}
}

// A cut body is shown to the user and encoded as JSON on the local API: it
// must stay valid UTF-8.
func TestAPIErrorCutKeepsUTF8(t *testing.T) {
	t.Parallel()
	body := "x" + strings.Repeat("é", 200) // 401 bytes: byte 300 is inside a rune
	ae := gateway.NewAPIError("GET", &gateway.Raw{Status: 500, Body: []byte(body), URL: "https://gw/api/v1/x"})
	if !utf8.ValidString(ae.Text()) {
		t.Errorf("Text() is not valid UTF-8: %q", ae.Text())
	}
	if !strings.HasSuffix(ae.Text(), "…") || len(ae.Text()) > 300+len("…") {
		t.Errorf("Text() %q is not cut", ae.Text())
	}
}

func TestNewProxyErrorText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		code   string
		text   string
	}{
		{"convox json error", 404, `{"error":"app not found: api"}`, "app not found: api", "app not found: api"},
		{"any case", 400, `{"Error":"bad release"}`, "bad release", "bad release"},
		{"message ignored, as the Convox CLI does", 403, `{"error":"denied","message":"ignored"}`, "denied", "denied"},
		{"json without error shows the body", 500, `{"message":"m"}`, "", `{"message":"m"}`},
		{"gateway text refusal", 403, "permission denied: convox:apps:delete\n", "", "permission denied: convox:apps:delete"},
		{"empty error member", 500, `{"error":""}`, "", `{"error":""}`},
		{"empty body", 504, "", "", "response status 504"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{"X-Request-Id": {"r"}}
			e := gateway.NewProxyError("POST", &gateway.Raw{Status: tc.status, Header: h, Body: []byte(tc.body), URL: "https://gw/api/v1/rack-proxy/apps"})
			if !e.Convox || e.Status != tc.status || e.Method != "POST" || e.URL != "https://gw/api/v1/rack-proxy/apps" || e.Header.Get("X-Request-Id") != "r" {
				t.Errorf("error %+v", e)
			}
			if e.Code != tc.code {
				t.Errorf("Code %q, want %q", e.Code, tc.code)
			}
			if got := e.Text(); got != tc.text {
				t.Errorf("Text() = %q, want %q", got, tc.text)
			}
		})
	}
}

func TestNetErrorConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := gateway.New("http://"+addr, nil, "")
	t.Cleanup(c.HTTP.CloseIdleConnections)
	_, err = c.Do(context.Background(), gateway.Request{Method: http.MethodGet, Path: "/api/v1/info"}, nil)
	var ne *gateway.NetError
	if !errors.As(err, &ne) {
		t.Fatalf("err %T %v, want *NetError", err, err)
	}
	if ne.URL != "http://"+addr {
		t.Errorf("URL %q", ne.URL)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("err %v does not unwrap to ECONNREFUSED", err)
	}
	// The *url.Error wrapper, which repeats method and URL, is dropped.
	if strings.Contains(ne.Err.Error(), `Get "`) {
		t.Errorf("inner error %q still carries the url.Error text", ne.Err)
	}
	if msg := ne.Error(); !strings.HasPrefix(msg, "cannot reach the gateway at http://"+addr+": ") {
		t.Errorf("Error() = %q", msg)
	}
}

// blocker is a gateway whose handler is reached, then waits for the client
// to give up. It never sleeps: it returns when the request's context ends.
func blocker(t *testing.T, writeHead bool) (*gateway.Client, <-chan struct{}) {
	t.Helper()
	reached := make(chan struct{}, 1)
	c, _ := newGateway(t, func(w http.ResponseWriter, r *http.Request) {
		if writeHead {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(200)
			_, _ = io.WriteString(w, `{"partial":`)
			http.NewResponseController(w).Flush()
		}
		select {
		case reached <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	})
	return c, reached
}

func TestDoReturnsAtContextDeadline(t *testing.T) {
	t.Parallel()
	for _, writeHead := range []bool{false, true} {
		name := "before headers"
		if writeHead {
			name = "mid body"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, _ := blocker(t, writeHead)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			var out map[string]any
			_, err := c.Do(ctx, gateway.Request{Method: http.MethodGet, Path: "/api/v1/info"}, &out)
			if err == nil {
				t.Fatal("Do returned no error after its deadline")
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err %v, want one that is context.DeadlineExceeded", err)
			}
		})
	}
}

func TestDoReturnsWhenCanceled(t *testing.T) {
	t.Parallel()
	c, reached := blocker(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-reached
		cancel()
	}()
	_, err := c.Do(ctx, gateway.Request{Method: http.MethodGet, Path: "/api/v1/info"}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	// The caller gave up: that is not the gateway being unreachable.
	var ne *gateway.NetError
	if errors.As(err, &ne) {
		t.Fatalf("a cancellation reported as %v", ne)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	var target atomic.Int32
	c, rec := newGateway(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/app/login" {
			target.Add(1)
			textAnswer(200, "<html>login</html>")(w, r)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "session_token", Value: "", MaxAge: -1})
		w.Header().Set("Location", "/app/login")
		w.WriteHeader(http.StatusFound)
	})
	if err := c.Logout(context.Background(), "tok"); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	r := rec.last(t)
	if r.Method != http.MethodGet || r.Path != "/api/v1/auth/web/logout" || r.Header.Get("Authorization") != "Bearer tok" {
		t.Fatalf("logout sent %s %s auth %q", r.Method, r.Path, r.Header.Get("Authorization"))
	}
	// Any other call that meets a redirect reports it instead of fetching
	// the page it points to.
	_, err := c.Do(context.Background(), gateway.Request{Method: http.MethodGet, Path: "/api/v1/info", Token: "tok"}, nil)
	var ae *gateway.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusFound || ae.Header.Get("Location") != "/app/login" {
		t.Fatalf("err %v, want an *APIError 302", err)
	}
	if n := target.Load(); n != 0 {
		t.Fatalf("the redirect target was fetched %d times", n)
	}
	// No cookie jar: the cookie the logout answer set is never sent back.
	if v := rec.last(t).Header.Get("Cookie"); v != "" {
		t.Fatalf("Cookie sent: %q", v)
	}
}

func TestLogoutStatuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		err    bool
	}{{302, false}, {303, false}, {200, false}, {204, false}, {401, true}, {500, true}} {
		c, _ := newGateway(t, jsonAnswer(tc.status, `{"error":"nope"}`))
		err := c.Logout(context.Background(), "tok")
		if (err != nil) != tc.err {
			t.Errorf("status %d: err %v, want error %v", tc.status, err, tc.err)
		}
	}
}

func newTLSServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	// The refused handshakes are the point; keep them out of the output.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestTLSIsVerified(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := newTLSServer(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		jsonAnswer(200, `{}`)(w, r)
	})
	c := gateway.New(srv.URL, nil, "")
	t.Cleanup(c.HTTP.CloseIdleConnections)
	_, err := c.Do(context.Background(), gateway.Request{Method: http.MethodGet, Path: "/api/v1/info", Token: "secret"}, nil)
	var ne *gateway.NetError
	if !errors.As(err, &ne) {
		t.Fatalf("err %T %v, want *NetError for an untrusted certificate", err, err)
	}
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &cve) && !errors.As(err, &uae) {
		t.Errorf("err %v is not a certificate verification failure", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the request (and its token) reached an unverified server")
	}

	// Control: the same client with the server's CA trusted gets through,
	// so the refusal above was about trust.
	hc := gateway.NewHTTPClient()
	t.Cleanup(hc.CloseIdleConnections)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
	trusted := gateway.New(srv.URL, hc, "")
	if _, err := trusted.Do(context.Background(), gateway.Request{Method: http.MethodGet, Path: "/api/v1/info"}, nil); err != nil {
		t.Fatalf("trusted CA: %v", err)
	}
}

func TestNormalizeURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"gw.example.com":           "https://gw.example.com",
		" https://gw.example.com/": "https://gw.example.com",
		"http://localhost:8080":    "http://localhost:8080",
		"https://gw.example.com/x": "https://gw.example.com/x",
	} {
		got, err := gateway.NormalizeURL(in)
		if err != nil || got != want {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "  ", "ftp://gw", "https://", "https://u:p@gw", "https://gw?x=1", "https://gw#f"} {
		if got, err := gateway.NormalizeURL(in); err == nil {
			t.Errorf("NormalizeURL(%q) = %q, want an error", in, got)
		}
	}
}
