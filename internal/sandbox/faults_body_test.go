package sandbox

import (
	"net/http"
	"testing"
)

// TestFaultBodyAndRetryAfter: a fault can answer with a body of the test's
// own (an HTML page, a hostile message) and a Retry-After header.
func TestFaultBodyAndRetryAfter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("admin@example.com", false)
	page := "<html><head><title>502 Bad Gateway</title></head></html>"
	e.armFault(`{"method":"GET","path":"/api/v1/rack-proxy/apps","status":502,"body":"` + page + `","content_type":"text/html"}`)
	e.armFault(`{"method":"GET","path":"/api/v1/info","status":429,"retry_after":"2","body":"{\"error\":\"rate limit exceeded\"}"}`)
	rec := e.do(req{method: "GET", path: "/api/v1/rack-proxy/apps", header: bearer(tok)})
	if rec.Code != http.StatusBadGateway || rec.Body.String() != page || rec.Header().Get("Content-Type") != "text/html" {
		t.Fatalf("page fault: %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
	rec = e.do(req{method: "GET", path: "/api/v1/info", header: bearer(tok)})
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "2" ||
		rec.Header().Get("Content-Type") != "application/json" || rec.Body.String() != `{"error":"rate limit exceeded"}` {
		t.Fatalf("429 fault: %d %v %q", rec.Code, rec.Header(), rec.Body.String())
	}
	wantStatus(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(tok)}), 200)
	rec = e.do(req{method: "POST", path: "/_sandbox/faults", body: `{"method":"GET","path":"/x","drop":true,"retry_after":"1"}`, remote: loopback})
	wantJSONError(t, rec, 400, "invalid fault: body, content_type and retry_after need a status")
}
