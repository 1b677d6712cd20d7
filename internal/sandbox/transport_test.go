package sandbox

import (
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func TestHostCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.Domain = "gateway.example.com" })
	for _, host := range []string{"localhost", "localhost:8080", "LOCALHOST.", "127.0.0.1:9", "gateway.example.com", "Gateway.Example.COM.:443"} {
		rec := e.do(req{method: "GET", path: "/api/v1/health", host: host})
		wantStatus(t, rec, 200)
		if body := rec.Body.String(); body != `{"service":"rack-gateway","status":"ok"}` {
			t.Fatalf("health body %q", body)
		}
	}
	for _, host := range []string{"evil.example.com", "127.0.0.2", "[::1]:80", "gateway.example.com.evil"} {
		rec := e.do(req{method: "GET", path: "/api/v1/health", host: host})
		wantJSONError(t, rec, 400, "invalid host")
		if rec.Body.String() != `{"error":"invalid host"}` {
			t.Fatalf("body %q", rec.Body.String())
		}
	}
	// An empty Host (HTTP/1.0) is accepted.
	hr := httptest.NewRequest("GET", "/api/v1/health", nil)
	hr.Host = ""
	rec := httptest.NewRecorder()
	e.s.Handler().ServeHTTP(rec, hr)
	wantStatus(t, rec, 200)
	// Probes skip the check.
	wantStatus(t, e.do(req{method: "GET", path: "/api/v1/health", host: "10.0.0.1", header: map[string]string{"User-Agent": "kube-probe/1.29"}}), 200)
}

func TestOriginCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.Domain = "gateway.example.com" })
	ok := []map[string]string{
		{"Origin": "https://evil.example.com"}, // neither User-Agent nor Sec-Fetch-Site: not checked
		{"Origin": "https://gateway.example.com", "User-Agent": "x"},
		{"Origin": "http://localhost:3000", "User-Agent": "x"},
		{"User-Agent": "x"},
	}
	for _, h := range ok {
		wantStatus(t, e.do(req{method: "GET", path: "/api/v1/health", header: h}), 200)
	}
	bad := []map[string]string{
		{"Origin": "https://evil.example.com", "User-Agent": "x"},
		{"Origin": "https://evil.example.com", "Sec-Fetch-Site": "cross-site"},
		{"Origin": "null", "User-Agent": "x"},
	}
	for _, h := range bad {
		wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/health", header: h}), 400, "invalid origin")
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.RateLimitRPS = 1; c.RateLimitBurst = 2 })
	start := req{method: "POST", path: "/api/v1/auth/cli/start"}
	wantStatus(t, e.do(start), 200)
	wantStatus(t, e.do(start), 200)
	rec := e.do(start)
	wantStatus(t, rec, 429)
	if rec.Body.String() != rateLimitBody {
		t.Fatalf("body %q", rec.Body.String())
	}
	h := rec.Header()
	reset := strconv.FormatInt(e.clock.Now().Unix()+1, 10)
	for k, want := range map[string]string{
		"Content-Type": "application/json", "Retry-After": "1", "X-RateLimit-Limit": "1",
		"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset,
	} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
	// Same bucket across auth routes, per client IP.
	wantStatus(t, e.do(req{method: "GET", path: "/api/v1/auth/web/logout"}), 429)
	wantStatus(t, e.do(req{method: "POST", path: "/api/v1/auth/cli/start", remote: "192.0.2.99:1"}), 200)

	// The mfa bucket is independent and applies after authentication.
	tok := e.session("admin@example.com", true)
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/auth/mfa/status"}), 401, "missing authorization")
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/auth/mfa/status"}), 401, "missing authorization")
	status := req{method: "GET", path: "/api/v1/auth/mfa/status", header: bearer(tok)}
	wantStatus(t, e.do(status), 200)
	wantStatus(t, e.do(status), 200)
	wantStatus(t, e.do(status), 429)

	// Other native routes and the proxy are not limited.
	for i := 0; i < 5; i++ {
		wantStatus(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(tok)}), 200)
		wantStatus(t, e.do(req{method: "GET", path: "/api/v1/rack-proxy/apps", header: bearer(tok)}), 200)
	}

	// Tokens refill with time.
	e.clock.Advance(time.Second)
	wantStatus(t, e.do(start), 200)
	wantStatus(t, e.do(start), 429)
}

func TestRateLimitDefaultHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.RateLimitBurst = 1 })
	wantStatus(t, e.do(req{method: "POST", path: "/api/v1/auth/cli/start"}), 200)
	rec := e.do(req{method: "POST", path: "/api/v1/auth/cli/start"})
	wantStatus(t, rec, 429)
	if rec.Header().Get("Retry-After") != "0" || rec.Header().Get("X-RateLimit-Limit") != "10" {
		t.Fatalf("headers %v", rec.Header())
	}
}

func TestRoutingAndIntrospection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("admin@example.com", true)
	// gin-style 404s: unknown paths and wrong methods alike.
	for _, r := range []req{{method: "GET", path: "/api/v1/nope"}, {method: "DELETE", path: "/api/v1/health"}} {
		rec := e.do(r)
		wantStatus(t, rec, 404)
		if rec.Body.String() != "404 page not found" {
			t.Fatalf("body %q", rec.Body.String())
		}
	}
	if rec := e.do(req{method: "GET", path: "/"}); rec.Code != 307 || rec.Header().Get("Location") != "/app/rack" {
		t.Fatalf("root: %d %v", rec.Code, rec.Header())
	}
	wantStatus(t, e.do(req{method: "GET", path: "/app/cli/auth/success"}), 200)

	e.do(req{method: "GET", path: "/api/v1/info", header: bearer(tok)})
	e.do(req{method: "GET", path: "/api/v1/info", header: bearer(tok)})
	if n := e.s.RequestCount("GET", "/api/v1/info"); n != 2 {
		t.Fatalf("RequestCount %d", n)
	}
	if rec := e.do(req{method: "GET", path: "/_sandbox/requests"}); rec.Code != 404 {
		t.Fatalf("non-loopback introspection: %d", rec.Code)
	}
	rec := e.do(req{method: "GET", path: "/_sandbox/requests", remote: "[::1]:9000"})
	wantStatus(t, rec, 200)
	counts := decode(t, rec.Body.Bytes())["counts"].(map[string]any)
	if counts["GET /api/v1/info"] != float64(2) {
		t.Fatalf("counts %v", counts)
	}
	if _, ok := counts["GET /_sandbox/requests"]; ok {
		t.Fatal("introspection counted")
	}
	if rec.Header().Get("X-Request-ID") == "" {
		t.Fatal("no X-Request-ID")
	}
}
