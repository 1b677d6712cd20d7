package e2e

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/rackws"
	"github.com/rack-gateway/rack-gateway/internal/faultproxy"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// Faults on the wire between the real agent and the gateway, made by the
// fault proxy: for each, what the user reads, the exit status, that the
// command ends within its documented deadline (docs/architecture.md,
// "Failure behaviour"), and that an MFA code in flight is never sent a
// second time, by the agent or by net/http under it.

// Deadlines of the "Failure behaviour" table.
const (
	// faultAtOnce bounds a fault the wire reports by itself (a reset, an
	// answer): it ends the command as soon as it arrives. It is the
	// connect deadline, the shortest the agent has.
	faultAtOnce = gateway.DialTimeout
	// faultCall is the agent's bound on one gateway request in these
	// tests (RACK_GATEWAY_AGENT_CALL_TIMEOUT; gateway.CallTimeout
	// otherwise): long enough for a loaded machine's real answers.
	faultCall = 8 * time.Second
	// faultSlack is a loaded machine's margin on top of a deadline.
	faultSlack = 5 * time.Second
)

const (
	verifyPath = "/api/v1/auth/mfa/verify"
	appsPath   = "/api/v1/rack-proxy/apps"
	tokensPath = "/api/v1/api-tokens"
)

// lbPage is a load balancer's error page: HTML, not the gateway's words.
const lbPage = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"

// faultEnv is admin, logged in through a fault proxy in front of a
// private sandbox, with the step-up window closed: every request the
// agent makes crosses the proxy, and a step-up command must spend a code.
func faultEnv(t *testing.T) (*env, *sandbox, *faultproxy.Proxy) {
	t.Helper()
	sb := newSandbox(t)
	px, err := faultproxy.Start(sb.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = px.Close() })
	e := newEnv(t)
	e.sb = &sandbox{URL: px.URL} // the rack's gateway URL is the proxy's
	// A gateway that never answers is then seen in seconds, not thirty.
	e.set("RACK_GATEWAY_AGENT_CALL_TIMEOUT", faultCall.String())
	e.login("prod", admin)
	sb.expireStepUp(t, admin)
	return e, sb, px
}

// runLong runs a command whose deadline may be the agent's longest: the
// harness's own 30 s would race it.
func (e *env) runLong(args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), faultCall+gateway.MaxRetryWait+2*faultSlack)
	defer cancel()
	return e.runCmd(e.cmd(ctx, args...))
}

// tokenCmd creates an API token: an "always" route, whose code rides the
// request itself in X-MFA-TOTP.
func tokenCmd(name string) []string {
	return []string{"api", "-X", "POST", tokensPath, "-d", `{"name":"` + name + `","permissions":["convox:app:list"]}`}
}

func TestFaultsWhileACodeIsInFlight(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		cmd   []string
		again []string // the command run with a fresh code afterwards; default cmd
		fault faultproxy.Fault
		// want are parts of the error, in the order the user reads them.
		want     []string
		deadline time.Duration
	}{
		{
			name:  "reset before the gateway",
			cmd:   stepUpCmd,
			fault: faultproxy.Fault{Kind: faultproxy.Reset, Method: "POST", Path: verifyPath},
			want:  []string{"Error: MFA verification did not complete", "connection reset", "counted as spent"},
		},
		{
			name:  "reset after the gateway",
			cmd:   stepUpCmd,
			fault: faultproxy.Fault{Kind: faultproxy.Reset, Method: "POST", Path: verifyPath, Forward: true},
			want:  []string{"Error: MFA verification did not complete", "connection reset", "counted as spent"},
		},
		{
			name:  "502 page after the gateway",
			cmd:   stepUpCmd,
			fault: faultproxy.Fault{Kind: faultproxy.Status, Method: "POST", Path: verifyPath, Forward: true, Status: 502, Body: lbPage},
			want:  []string{"Error: MFA verification did not complete", "502 Bad Gateway", "counted as spent"},
		},
		{
			name:  "503 on the code's own request",
			cmd:   tokenCmd("ci"),
			again: tokenCmd("ci-again"), // the gateway made "ci" before the 503
			fault: faultproxy.Fault{Kind: faultproxy.Status, Method: "POST", Path: tokensPath, Forward: true, Status: 503,
				Header: http.Header{"Content-Type": {"text/plain"}}, Body: "upstream connect error or disconnect/reset before headers"},
			want: []string{"Error: ", "503", "upstream connect error"},
		},
		{
			name:  "429 on a request that is not retried",
			cmd:   stepUpCmd,
			fault: faultproxy.Fault{Kind: faultproxy.Status, Method: "POST", Path: verifyPath, Status: 429, Header: http.Header{"Retry-After": {"20"}}, Body: "Too Many Requests"},
			want:  []string{"Error: MFA verification did not complete", "429", "try again in 20"},
		},
		{
			name:  "truncated JSON",
			cmd:   stepUpCmd,
			fault: faultproxy.Fault{Kind: faultproxy.Truncate, Method: "POST", Path: verifyPath},
			want:  []string{"Error: MFA verification did not complete", "ended early", "the connection may have dropped", "counted as spent"},
		},
		{
			name:  "body cut short",
			cmd:   stepUpCmd,
			fault: faultproxy.Fault{Kind: faultproxy.Truncate, Method: "POST", Path: verifyPath, KeepLength: true},
			want:  []string{"Error: MFA verification did not complete", "unexpected EOF", "counted as spent"},
		},
		{
			// The agent's longest wait: a gateway that took the request
			// and never answers.
			name:     "stall",
			cmd:      stepUpCmd,
			fault:    faultproxy.Fault{Kind: faultproxy.Stall, Method: "POST", Path: verifyPath, Forward: true},
			want:     []string{"Error: MFA verification did not complete", "did not answer within " + faultCall.String(), "counted as spent"},
			deadline: faultCall,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e, sb, px := faultEnv(t)
			code := totpCodes.next(t, sb, admin)
			px.Arm(c.fault)
			r := e.runLong(append(c.cmd, "--mfa-code", code)...)
			deadline := c.deadline
			if deadline == 0 {
				deadline = faultAtOnce
			}
			t.Logf("%s: exit %d after %s: %s", c.name, r.Code, r.Took.Round(time.Millisecond), r.Err)
			if r.Code != ipc.ExitError {
				t.Errorf("exit %d, want %d\n%s", r.Code, ipc.ExitError, r)
			}
			inOrder(t, r.Err, c.want...)
			plainText(t, r.Err)
			if r.Took > deadline+faultSlack {
				t.Errorf("failed after %s, past the %s deadline", r.Took.Round(time.Millisecond), deadline)
			}
			if px.Armed() != 0 {
				t.Fatalf("the fault never fired: %s", r)
			}
			again := c.again
			if again == nil {
				again = c.cmd
			}
			codeSentOnce(t, e, sb, px, c.cmd, again, code)
		})
	}
}

// codeSentOnce checks that code crossed the wire once, and that running
// cmd again with it sends nothing; again with a fresh code then works, so
// the fault left the session and the agent in order.
func codeSentOnce(t *testing.T, e *env, sb *sandbox, px *faultproxy.Proxy, cmd, again []string, code string) {
	t.Helper()
	if n := px.Sent(code); n != 1 {
		t.Fatalf("the code crossed the wire %d times, want 1", n)
	}
	r := e.run(append(cmd, "--mfa-code", code)...)
	if r.Code == 0 || !strings.Contains(r.Err, "already used") {
		t.Errorf("the spent code again: %s", r)
	}
	if n := px.Sent(code); n != 1 {
		t.Fatalf("running the command again sent the spent code (%d times in all)", n)
	}
	if n := sb.replays(t); n != 0 {
		t.Errorf("the gateway saw %d replayed TOTP steps", n)
	}
	sb.expireStepUp(t, admin)
	e.mustRun(append(again, "--mfa-code", totpCodes.next(t, sb, admin))...)
}

// Faults on a request without a code: made-up answers name their status
// and never show markup; a 429 is retried once, only for a request that
// may be repeated and only as Retry-After allows within the deadline.
func TestFaultsOnAPlainRequest(t *testing.T) {
	t.Parallel()
	e, _, px := faultEnv(t)
	sent := func() int {
		n := 0
		for _, r := range px.Requests() {
			if r.Method == "GET" && r.Path == appsPath {
				n++
			}
		}
		return n
	}
	cases := []struct {
		name  string
		fault faultproxy.Fault
		ok    bool     // the command succeeds anyway
		want  []string // parts of the error, in order
		tries int      // requests that reach the proxy
	}{
		{"reset on every try", faultproxy.Fault{Kind: faultproxy.Reset, Count: -1}, false,
			[]string{"Error: cannot reach the gateway at " + px.URL, "connection reset", "Check the gateway URL"}, 0},
		{"502 page", faultproxy.Fault{Kind: faultproxy.Status, Status: 502, Body: lbPage}, false,
			[]string{"Error: ", "502 Bad Gateway"}, 1},
		{"429 once, then served", faultproxy.Fault{Kind: faultproxy.Status, Status: 429, Header: http.Header{"Retry-After": {"1"}}, Body: "Too Many Requests"}, true,
			nil, 2},
		{"429 twice", faultproxy.Fault{Kind: faultproxy.Status, Status: 429, Count: 2, Header: http.Header{"Retry-After": {"1"}}, Body: "Too Many Requests"}, false,
			[]string{"Error: rate limited by the gateway", "429", "try again in 1"}, 2},
		{"429 past the deadline", faultproxy.Fault{Kind: faultproxy.Status, Status: 429, Header: http.Header{"Retry-After": {"120"}}, Body: "Too Many Requests"}, false,
			[]string{"Error: rate limited by the gateway", "429", "try again in 2"}, 1},
		{"truncated JSON", faultproxy.Fault{Kind: faultproxy.Truncate}, false,
			[]string{"Error: unexpected answer from GET /apps", "unexpected end of JSON input"}, 1},
		{"body cut short", faultproxy.Fault{Kind: faultproxy.Truncate, KeepLength: true}, false,
			[]string{"Error: the answer from the gateway at " + px.URL + " was cut short: unexpected EOF", "try again"}, 1},
		{"stall", faultproxy.Fault{Kind: faultproxy.Stall, Forward: true}, false,
			[]string{"Error: the gateway at " + px.URL + " did not answer within " + faultCall.String(), "try again"}, 1},
	}
	for _, c := range cases {
		c.fault.Method, c.fault.Path = "GET", appsPath
		px.Clear()
		px.Arm(c.fault)
		before := sent()
		r := e.runLong("apps")
		t.Logf("%s: exit %d after %s: %s", c.name, r.Code, r.Took.Round(time.Millisecond), r.Err)
		switch {
		case c.ok && r.Code != 0:
			t.Errorf("%s: %s", c.name, r)
		case !c.ok && r.Code != ipc.ExitError:
			t.Errorf("%s: exit %d, want %d\n%s", c.name, r.Code, ipc.ExitError, r)
		}
		inOrder(t, r.Err, c.want...)
		plainText(t, r.Err)
		// A 429 retried waits for Retry-After first, at most
		// gateway.MaxRetryWait.
		deadline := faultAtOnce
		if c.fault.Kind == faultproxy.Stall {
			deadline = faultCall
		}
		if c.fault.Status == http.StatusTooManyRequests {
			deadline += gateway.MaxRetryWait
		}
		if r.Took > deadline+faultSlack {
			t.Errorf("%s: ended after %s, past the %s deadline", c.name, r.Took.Round(time.Millisecond), deadline)
		}
		// net/http retries an idempotent request once on a reused
		// connection that was reset; a reset on every try shows the
		// error whatever the count.
		if n := sent() - before; c.tries > 0 && n != c.tries {
			t.Errorf("%s: %d requests, want %d", c.name, n, c.tries)
		}
	}
	px.Clear()
	e.mustRun("apps")
}

// A websocket dropped in the middle of its stream ends the command with
// the drop named, at once, and nothing is dialled again: not the stream,
// not the code that opened the window for it.
func TestFaultsDropAStreamMidway(t *testing.T) {
	t.Parallel()
	e, sb, px := faultEnv(t)
	t.Run("logs -f", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, _, wait := e.start(e.cmd(ctx, "logs", "-a", "demo", "-f"))
		waitFor(t, "a followed line", 10*time.Second, func() bool { return strings.Contains(out.String(), "(follow 1)") })
		if n := px.CutStreams(); n != 1 {
			t.Fatalf("cut %d streams, want 1", n)
		}
		cut := time.Now()
		r := wait()
		took := time.Since(cut)
		t.Logf("exit %d %s after the cut: %s", r.Code, took.Round(time.Millisecond), r.Err)
		if r.Code != ipc.ExitError {
			t.Errorf("exit %d, want %d\n%s", r.Code, ipc.ExitError, r)
		}
		inOrder(t, r.Err, "Error: the stream from the rack was cut off", "run the command again")
		if took > faultAtOnce+faultSlack {
			t.Errorf("reported %s after the cut, past the %s deadline", took.Round(time.Millisecond), faultAtOnce)
		}
		if n := streamDials(px, "/api/v1/rack-proxy/apps/demo/logs"); n != 1 {
			t.Errorf("%d log streams dialled, want 1", n)
		}
	})
	t.Run("exec", func(t *testing.T) {
		code := totpCodes.next(t, sb, admin)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := e.cmd(ctx, "exec", "-a", "demo", strmPID, "--mfa-code", code, "cat")
		stdin, err := c.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		defer stdin.Close()
		out, _, wait := e.start(c)
		_, _ = io.WriteString(stdin, "before the cut\n")
		waitFor(t, "exec's first output", 10*time.Second, func() bool { return strings.Contains(out.String(), "before the cut") })
		if n := px.CutStreams(); n != 1 {
			t.Fatalf("cut %d streams, want 1", n)
		}
		cut := time.Now()
		r := wait()
		took := time.Since(cut)
		t.Logf("exit %d %s after the cut: %s", r.Code, took.Round(time.Millisecond), r.Err)
		if r.Code != ipc.ExitError {
			t.Errorf("exit %d, want %d\n%s", r.Code, ipc.ExitError, r)
		}
		inOrder(t, r.Err, "Error: the stream from the rack was cut off", "may still be running")
		if took > faultAtOnce+faultSlack {
			t.Errorf("reported %s after the cut, past the %s deadline", took.Round(time.Millisecond), faultAtOnce)
		}
		// One refused upgrade (the window was closed), one stream.
		if n := streamDials(px, "/api/v1/rack-proxy/apps/demo/processes/"+strmPID+"/exec"); n != 2 {
			t.Errorf("%d exec upgrades, want 2 (one refused for MFA, one stream)", n)
		}
		if n := px.Sent(code); n != 1 {
			t.Errorf("the code crossed the wire %d times, want 1", n)
		}
		if n := sb.replays(t); n != 0 {
			t.Errorf("the gateway saw %d replayed TOTP steps", n)
		}
	})
}

// A websocket upgrade the gateway takes and never answers ends at the
// handshake deadline, named as a stream that could not be opened.
func TestFaultsStallAStreamUpgrade(t *testing.T) {
	t.Parallel()
	e, _, px := faultEnv(t)
	px.Arm(faultproxy.Fault{Kind: faultproxy.Stall, Method: "GET", Path: "/api/v1/rack-proxy/apps/demo/logs"})
	r := e.runLong("logs", "-a", "demo", "-f")
	t.Logf("exit %d after %s: %s", r.Code, r.Took.Round(time.Millisecond), r.Err)
	if r.Code != ipc.ExitError {
		t.Errorf("exit %d, want %d\n%s", r.Code, ipc.ExitError, r)
	}
	inOrder(t, r.Err, "Error: cannot open a stream to the gateway at "+px.URL, "Check the gateway URL")
	if r.Took > rackws.HandshakeTimeout+faultSlack {
		t.Errorf("failed after %s, past the %s handshake deadline", r.Took.Round(time.Millisecond), rackws.HandshakeTimeout)
	}
	waitFor(t, "the agent to close the stalled upgrade", 5*time.Second, func() bool { return px.Held() == 0 })
}

// streamDials counts the upgrade requests for path the proxy saw.
func streamDials(px *faultproxy.Proxy, path string) int {
	n := 0
	for _, r := range px.Requests() {
		if r.Path == path && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			n++
		}
	}
	return n
}

// inOrder checks that s contains want, each after the one before.
func inOrder(t *testing.T, s string, want ...string) {
	t.Helper()
	rest := s
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("missing %q (in this order: %q) in:\n%s", w, want, s)
			return
		}
		rest = rest[i+len(w):]
	}
}

// markup is an HTML tag, a comment or an entity.
var markup = regexp.MustCompile(`</?[a-zA-Z][^>]*>|<!|&[a-z]+;`)

// plainText checks that what the user reads has no markup and no control
// characters from a server.
func plainText(t *testing.T, s string) {
	t.Helper()
	if markup.MatchString(s) || strings.ContainsAny(s, "\x1b\r") {
		t.Errorf("markup or control characters reach the terminal:\n%q", s)
	}
}
