package sandbox

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	loopback   = "127.0.0.1:4000"
	verifyPath = "/api/v1/auth/mfa/verify"
)

// armFault posts body to /_sandbox/faults and returns the armed list.
func (e *env) armFault(body string) []Fault {
	e.t.Helper()
	rec := e.do(req{method: "POST", path: "/_sandbox/faults", body: body, remote: loopback})
	wantStatus(e.t, rec, 200)
	var resp struct {
		Status string  `json:"status"`
		Faults []Fault `json:"faults"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Status != "armed" {
		e.t.Fatalf("arm: %s (%v)", rec.Body.String(), err)
	}
	return resp.Faults
}

func (e *env) listFaults() string {
	e.t.Helper()
	rec := e.do(req{method: "GET", path: "/_sandbox/faults", remote: loopback})
	wantStatus(e.t, rec, 200)
	return rec.Body.String()
}

// TestFaultAfterProcessing: the gateway accepts the code, the client only
// sees a 502, and re-sending the same code is then a replay. This is the
// trap a client's retry logic must avoid.
func TestFaultAfterProcessing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const email = "admin@example.com"
	tok := e.session(email, false)
	armed := e.armFault(`{"method":"POST","path":"` + verifyPath + `","status":502,"count":1,"after":true}`)
	if len(armed) != 1 || armed[0] != (Fault{Method: "POST", Path: verifyPath, Status: 502, Count: 1, After: true}) {
		t.Fatalf("armed %+v", armed)
	}
	code := e.code(email)
	wantJSONError(t, e.verify(tok, code), http.StatusBadGateway, "bad gateway")
	// Processed: the attempt row, the consumed step and the open window.
	e.wantMFA(email, false, "totp ok")
	if n := len(e.user(email).stepHistory); n != 1 {
		t.Fatalf("%d steps consumed, want 1", n)
	}
	info := decode(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(tok)}).Body.Bytes())
	if _, ok := info["user"].(map[string]any)["recent_step_up_expires_at"]; !ok {
		t.Fatalf("no step-up window after the faulted verify: %v", info)
	}
	wantJSONError(t, e.verify(tok, code), 400, "verification failed")
	if got := e.listFaults(); got != `{"faults":[]}` {
		t.Fatalf("faults left: %s", got)
	}
	// Faulted requests are counted like any other; the knob is not.
	if n := e.s.RequestCount("POST", verifyPath); n != 2 {
		t.Fatalf("verify counted %d times, want 2", n)
	}
	if e.s.RequestCount("POST", "/_sandbox/faults") != 0 || e.s.RequestCount("GET", "/_sandbox/faults") != 0 {
		t.Fatal("the faults knob was request-counted")
	}
}

// TestFaultBeforeProcessing: the request never reaches the gateway, so the
// same code still verifies once the faults are used up.
func TestFaultBeforeProcessing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const email = "viewer@example.com"
	tok := e.session(email, false)
	if err := e.s.InjectFault(Fault{Method: "post", Path: verifyPath, Status: 503, Count: 2}); err != nil {
		t.Fatal(err)
	}
	code := e.code(email)
	for i := 0; i < 2; i++ {
		wantJSONError(t, e.verify(tok, code), http.StatusServiceUnavailable, "service unavailable")
	}
	e.wantMFA(email, false)
	// Other methods and paths were never affected.
	wantStatus(t, e.do(req{method: "GET", path: "/api/v1/auth/mfa/status", header: bearer(tok)}), 200)
	wantStatus(t, e.verify(tok, code), 200)
	e.wantMFA(email, false, "totp ok")
	if n := e.s.RequestCount("POST", verifyPath); n != 3 {
		t.Fatalf("verify counted %d times, want 3", n)
	}
}

// TestFaultTextRouteAndOrder: the rack proxy gets text answers, faults on
// one route apply oldest first, and an "after" fault on a step-up route
// still opens the window.
func TestFaultTextRouteAndOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const email = "admin@example.com"
	const path = "/api/v1/rack-proxy/system"
	tok := e.session(email, false)
	e.armFault(`{"method":"PUT","path":"` + path + `","status":502,"after":true}`)
	e.armFault(`{"method":"PUT","path":"` + path + `","status":504}`)
	if got := e.listFaults(); got != `{"faults":[`+
		`{"method":"PUT","path":"`+path+`","status":502,"drop":false,"count":1,"after":true},`+
		`{"method":"PUT","path":"`+path+`","status":504,"drop":false,"count":1,"after":false}]}` {
		t.Fatalf("listed %s", got)
	}
	rec := e.do(req{method: "PUT", path: path, header: withHeader(tok, "X-Mfa-Totp", e.code(email))})
	wantStatus(t, rec, http.StatusBadGateway)
	if rec.Body.String() != "bad gateway" || rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("proxy fault answer %q %q", rec.Header().Get("Content-Type"), rec.Body.String())
	}
	rec = e.do(req{method: "PUT", path: path, header: bearer(tok)})
	if rec.Code != http.StatusGatewayTimeout || rec.Body.String() != "gateway timeout" {
		t.Fatalf("second fault: %d %q", rec.Code, rec.Body.String())
	}
	// The proof of the first request opened the window.
	wantStatus(t, e.do(req{method: "PUT", path: path, header: bearer(tok)}), 200)
	e.wantMFA(email, false, "totp ok")
}

// TestFaultDrop: over a real connection the client gets no answer at all,
// though the gateway processed the request.
func TestFaultDrop(t *testing.T) {
	t.Parallel()
	l := newLiveEnv(t)
	const email = "deployer@example.com"
	tok := l.session(email, false)
	// after:false cannot be combined with a drop; omitted it means after.
	wantJSONError(t, l.do(req{method: "POST", path: "/_sandbox/faults", remote: loopback,
		body: `{"method":"POST","path":"` + verifyPath + `","drop":true,"after":false}`}),
		400, "invalid fault: a drop always happens after processing; omit after")
	armed := l.armFault(`{"method":"POST","path":"` + verifyPath + `","drop":true}`)
	if armed[0] != (Fault{Method: "POST", Path: verifyPath, Drop: true, Count: 1, After: true}) {
		t.Fatalf("armed %+v", armed)
	}
	code := l.code(email)
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	send := func() (*http.Response, error) {
		r, _ := http.NewRequest("POST", l.srv.URL+verifyPath, strings.NewReader(`{"code":"`+code+`"}`))
		r.Header.Set("Authorization", "Bearer "+tok)
		return client.Do(r)
	}
	if resp, err := send(); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped request answered %d", resp.StatusCode)
	}
	l.wantMFA(email, false, "totp ok")
	resp, err := send()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("re-sent code: %d, want the replay's 400", resp.StatusCode)
	}
	if n := l.s.RequestCount("POST", verifyPath); n != 2 {
		t.Fatalf("verify counted %d times, want 2", n)
	}

	// In process there is no connection to close: the handler aborts.
	if err := l.s.InjectFault(Fault{Method: "GET", Path: "/api/v1/info", Drop: true}); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if r := recover(); r != http.ErrAbortHandler {
				t.Fatalf("in-process drop: recovered %v", r)
			}
		}()
		l.do(req{method: "GET", path: "/api/v1/info", header: bearer(tok)})
	}()
}

func TestFaultKnobValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if rec := e.do(req{method: "GET", path: "/_sandbox/faults"}); rec.Code != 404 {
		t.Fatalf("non-loopback: %d", rec.Code)
	}
	for body, msg := range map[string]string{
		`{"path":"/api/v1/info","status":502}`:                            "method is required",
		`{"method":"GET","path":"api/v1/info","status":502}`:              "path must start with /",
		`{"method":"GET","path":"/_sandbox/requests","status":502}`:       "sandbox endpoints cannot be faulted",
		`{"method":"GET","path":"/api/v1/info","status":502,"drop":true}`: "give status or drop, not both",
		`{"method":"GET","path":"/api/v1/info"}`:                          "status must be 200-599, or set drop",
		`{"method":"GET","path":"/api/v1/info","status":700}`:             "status must be 200-599, or set drop",
		`{"method":"GET","path":"/api/v1/info","status":502,"count":-1}`:  "count must not be negative",
		`{"method":"GET","path":"/api/v1/info","statuss":502}`:            `json: unknown field "statuss"`,
	} {
		rec := e.do(req{method: "POST", path: "/_sandbox/faults", body: body, remote: loopback})
		wantJSONError(t, rec, 400, "invalid fault: "+msg)
	}
	if e.listFaults() != `{"faults":[]}` {
		t.Fatal("a rejected fault was armed")
	}
	e.armFault(`{"method":"GET","path":"/api/v1/info","status":500,"count":3}`)
	e.armFault(`{"method":"GET","path":"/","drop":true}`)
	if n := len(e.s.Faults()); n != 2 {
		t.Fatalf("%d faults armed", n)
	}
	rec := e.do(req{method: "DELETE", path: "/_sandbox/faults", remote: loopback})
	wantStatus(t, rec, 200)
	if rec.Body.String() != `{"cleared":2,"status":"cleared"}` {
		t.Fatalf("delete: %s", rec.Body.String())
	}
	if n := e.s.ClearFaults(); n != 0 {
		t.Fatalf("%d faults left after clearing", n)
	}
	if rec := e.do(req{method: "PUT", path: "/_sandbox/faults", remote: loopback}); rec.Code != 404 {
		t.Fatalf("PUT: %d", rec.Code)
	}
}
