package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/config"
	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/agent/events"
	"github.com/rack-gateway/rack-gateway/agent/server"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
)

func TestStatusEmpty(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	resp, body := a.do(t, http.MethodGet, ipc.PathStatus, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	checkAgentHeaders(t, resp)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	// Clients index these: they are empty lists, never null.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"racks", "prompts"} {
		if string(raw[k]) != "[]" {
			t.Errorf("%s = %s, want []", k, raw[k])
		}
	}
	var st ipc.Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if st.Version != testVersion || st.Capability != ipc.Capability || st.PID != os.Getpid() || st.Socket != a.Socket {
		t.Errorf("status %+v", st)
	}
	if !st.StartedAt.Equal(a.Core.Started) {
		t.Errorf("started_at %v, want %v", st.StartedAt, a.Core.Started)
	}
}

func TestStatusRacksWindowsAndPrompts(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	dir := t.TempDir()
	p, err := a.Core.Profile(dir)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Second)
	if err := p.Update(func(c *config.Config) error {
		c.Gateways["prod"] = &config.Gateway{URL: "https://gw.example.com", Email: "me@example.com", ExpiresAt: &exp}
		c.Gateways["staging"] = &config.Gateway{URL: "https://staging.example.com", Email: "old@example.com"}
		c.Current = "prod"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetToken("prod", "tok"); err != nil {
		t.Fatal(err)
	}
	key := core.SessionKey(dir, "prod")
	a.Core.SetRole(key, "deployer")
	win := time.Now().Add(5 * time.Minute)
	a.Core.MFA.Observe(key, &win, "totp", "test")
	t.Cleanup(func() { a.Core.MFA.Forget(key) }) // stops the window's timers
	pp := a.Core.Prompts.Add(core.PendingPrompt{Rack: "prod", Command: "rack-gateway env set", Text: "MFA code: ", Secret: true, Reason: "mfa", PID: 4242})
	other := a.Core.Prompts.Add(core.PendingPrompt{Text: "Security key PIN: ", Secret: true, Reason: "fido_pin"})

	st, err := a.API.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.SecretStore == "" {
		t.Error("secret_store is empty")
	}
	if len(st.Racks) != 2 {
		t.Fatalf("racks %+v", st.Racks)
	}
	prod, staging := st.Racks[0], st.Racks[1]
	if prod.Name != "prod" || prod.URL != "https://gw.example.com" || !prod.Current || prod.ConfigDir != dir ||
		!prod.LoggedIn || prod.Email != "me@example.com" || prod.Role != "deployer" ||
		prod.ExpiresAt == nil || !prod.ExpiresAt.Equal(exp) {
		t.Errorf("prod %+v", prod)
	}
	if !prod.Window.Active || prod.Window.ExpiresAt == nil || !prod.Window.ExpiresAt.Equal(win) ||
		prod.Window.RemainingS <= 0 || prod.Window.RemainingS > 300 {
		t.Errorf("prod window %+v", prod.Window)
	}
	if len(prod.Prompts) != 1 || prod.Prompts[0].ID != pp.ID || prod.Prompts[0].Reason != "mfa" || prod.Prompts[0].PID != 4242 || !prod.Prompts[0].Secret {
		t.Errorf("prod prompts %+v", prod.Prompts)
	}
	// Without a token the rack is listed but says nothing about a session.
	if staging.Name != "staging" || staging.Current || staging.LoggedIn || staging.Email != "" || staging.ExpiresAt != nil ||
		staging.Window.Active || staging.Prompts == nil || len(staging.Prompts) != 0 {
		t.Errorf("staging %+v", staging)
	}
	if len(st.Prompts) != 2 || st.Prompts[0].ID != pp.ID || st.Prompts[1].ID != other.ID {
		t.Errorf("all prompts %+v", st.Prompts)
	}
}

// Every endpoint refuses a browser before doing anything, and still says
// who answered.
func TestBrowserHeadersRefused(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	pp := a.Core.Prompts.Add(core.PendingPrompt{Text: "code: "})
	for _, h := range []http.Header{
		{"Origin": {"https://evil.example"}},
		{"Origin": {"null"}},
		{"Referer": {"https://evil.example/page"}},
	} {
		for _, ep := range []struct{ method, path, body string }{
			{http.MethodGet, ipc.PathStatus, ""},
			{http.MethodPost, ipc.PathShutdown, ""},
			{http.MethodGet, ipc.PathEvents, ""},
			{http.MethodPost, ipc.PathPrompts + pp.ID, `{"value":"1"}`},
			{http.MethodPost, ipc.PathRun, ""},
			{http.MethodGet, "/v1/nothing", ""},
		} {
			resp, body := a.do(t, ep.method, ep.path, ep.body, h)
			apiError(t, resp, body, http.StatusForbidden, ipc.CodeForbidden)
			checkAgentHeaders(t, resp)
		}
	}
	// Nothing the refused requests asked for happened.
	select {
	case <-a.Srv.Stopping():
		t.Fatal("a refused shutdown stopped the agent")
	default:
	}
	if len(a.Core.Prompts.List()) != 1 {
		t.Fatal("a refused answer was delivered")
	}
	if _, err := a.API.Status(context.Background()); err != nil {
		t.Fatalf("agent no longer answers: %v", err)
	}
}

// The same rule holds on the websocket upgrade of /v1/run.
func TestRunUpgradeWithOriginRefused(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	h := http.Header{
		"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Origin": {"http://localhost:3000"},
	}
	resp, body := a.do(t, http.MethodGet, ipc.PathRun, "", h)
	apiError(t, resp, body, http.StatusForbidden, ipc.CodeForbidden)
}

func TestUnknownEndpointIsJSON404(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	for _, ep := range []struct{ method, path string }{
		{http.MethodGet, "/v2/status"},
		{http.MethodGet, ipc.PathShutdown}, // shutdown is POST only
		{http.MethodDelete, ipc.PathStatus},
	} {
		resp, body := a.do(t, ep.method, ep.path, "", nil)
		apiError(t, resp, body, http.StatusNotFound, ipc.CodeNotFound)
		checkAgentHeaders(t, resp)
	}
	select {
	case <-a.Srv.Stopping():
		t.Fatal("GET /v1/shutdown stopped the agent")
	default:
	}
}

// A listener that cannot tell who connected (no peer credentials) is not
// trusted: the guard refuses every request.
func TestPeerWithoutCredentialsRefused(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "plain.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	a := serve(t, newCore(t), sock, ln)
	resp, body := a.do(t, http.MethodGet, ipc.PathStatus, "", nil)
	e := apiError(t, resp, body, http.StatusForbidden, ipc.CodeForbidden)
	if !strings.Contains(e.Message, "not the agent's user") {
		t.Errorf("message %q", e.Message)
	}
	checkAgentHeaders(t, resp)
}

// The listener's hook answers another user's connection in plain HTTP.
func TestRejectPeerAnswers403(t *testing.T) {
	t.Parallel()
	c1, c2 := net.Pipe()
	defer c2.Close()
	go func() {
		defer c1.Close()
		server.RejectPeer(slog.New(slog.DiscardHandler))(c1, transport.PeerCred{UID: 4242, PID: 7})
	}()
	if _, err := io.WriteString(c2, "GET /v1/status HTTP/1.1\r\nHost: agent\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb ipc.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusForbidden || !resp.Close || eb.Error == nil || eb.Error.Code != ipc.CodeForbidden ||
		!strings.Contains(eb.Error.Message, "uid 4242") {
		t.Fatalf("%d close=%v %+v", resp.StatusCode, resp.Close, eb.Error)
	}
}

func TestShutdownStopsAcceptingBeforeAnswering(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	resp, body := a.do(t, http.MethodPost, ipc.PathShutdown, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	checkAgentHeaders(t, resp)
	var out struct {
		Stopping bool `json:"stopping"`
		PID      int  `json:"pid"`
	}
	if err := json.Unmarshal(body, &out); err != nil || !out.Stopping || out.PID != os.Getpid() {
		t.Fatalf("body %s: %v", body, err)
	}
	// By the time the answer is read, a new connection finds no agent, so
	// the next command starts a new one instead of reaching this one.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := transport.Dial(ctx, a.Socket); err == nil {
		c.Close()
		t.Fatal("a new connection was accepted after /v1/shutdown answered")
	} else if !transport.IsNotRunning(err) {
		t.Fatalf("dial after shutdown: %v, want a not-running error", err)
	}
	select {
	case <-a.Srv.Stopping():
	case <-ctx.Done():
		t.Fatal("Stopping not closed after /v1/shutdown")
	}
	// Serve promises nil after a clean stop; a daemon that reads anything
	// else reports a failure for a requested stop.
	select {
	case r := <-a.Served:
		a.Served <- r // for the cleanup
		if r.Err != nil {
			t.Fatalf("Serve returned %v after a requested stop, want nil", r.Err)
		}
	case <-ctx.Done():
		t.Fatal("Serve did not return after /v1/shutdown")
	}
}

func TestPromptAnswerErrors(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	pp := a.Core.Prompts.Add(core.PendingPrompt{Rack: "prod", Text: "MFA code: ", Secret: true})
	for _, body := range []string{
		`{"value":`,                  // cut short
		`not json`,                   // not JSON at all
		`{}`,                         // no value
		`{"value":null}`,             // no value
		`{"value":123456}`,           // not a string
		`{"value":"1","extra":true}`, // unknown member
		``,                           // no body
	} {
		for _, id := range []string{pp.ID, "no-such-id"} {
			resp, b := a.do(t, http.MethodPost, ipc.PathPrompts+id, body, nil)
			apiError(t, resp, b, http.StatusBadRequest, ipc.CodeBadRequest)
			checkAgentHeaders(t, resp)
		}
	}
	// None of that answered the prompt.
	select {
	case v := <-pp.Answers():
		t.Fatalf("a malformed body answered %q", v)
	default:
	}
	if len(a.Core.Prompts.List()) != 1 {
		t.Fatal("the prompt is gone")
	}

	resp, b := a.do(t, http.MethodPost, ipc.PathPrompts+"no-such-id", `{"value":"123456"}`, nil)
	e := apiError(t, resp, b, http.StatusNotFound, ipc.CodeNotFound)
	if !strings.Contains(e.Message, "no-such-id") || !strings.Contains(e.Hint, ipc.PathStatus) {
		t.Errorf("not found: %+v", e)
	}
}

func TestPromptAnswered(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	pp := a.Core.Prompts.Add(core.PendingPrompt{Rack: "prod", Text: "MFA code: ", Secret: true})
	resp, b := a.do(t, http.MethodPost, ipc.PathPrompts+pp.ID, `{"value":"123456"}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var out map[string]string
	if err := json.Unmarshal(b, &out); err != nil || out["answered"] != pp.ID {
		t.Fatalf("body %s: %v", b, err)
	}
	select {
	case v := <-pp.Answers():
		if v != "123456" {
			t.Fatalf("answer %q", v)
		}
	default:
		t.Fatal("the waiter got no answer")
	}
	// A prompt is answered once; the second answer finds nothing.
	err := a.API.AnswerPrompt(context.Background(), pp.ID, "654321")
	var ie *ipc.Error
	if !errors.As(err, &ie) || ie.Code != ipc.CodeNotFound {
		t.Fatalf("second answer: %v", err)
	}
}

func TestEventsUnknownTypeRefused(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	for _, q := range []string{"?types=bogus", "?types=login,bogus", "?types=login,,logout", "?types=LOGIN"} {
		resp, b := a.do(t, http.MethodGet, ipc.PathEvents+q, "", nil)
		e := apiError(t, resp, b, http.StatusBadRequest, ipc.CodeBadRequest)
		if !strings.Contains(e.Hint, events.CommandFinished) {
			t.Errorf("%s: hint %q does not list the known types", q, e.Hint)
		}
		checkAgentHeaders(t, resp)
	}
	// The typed client reports the agent's error, not a handshake failure.
	_, err := a.API.Events(context.Background(), "bogus")
	var ie *ipc.Error
	if !errors.As(err, &ie) || ie.Code != ipc.CodeBadRequest || !strings.Contains(ie.Message, "bogus") {
		t.Fatalf("Events(bogus): %v", err)
	}
	// A known filter without a websocket upgrade is refused too.
	resp, b := a.do(t, http.MethodGet, ipc.PathEvents+"?types=login", "", nil)
	apiError(t, resp, b, http.StatusBadRequest, ipc.CodeBadRequest)
}

func TestEventsFilterAndStop(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evs, err := a.API.Events(ctx, events.PromptPending, events.Logout)
	if err != nil {
		t.Fatal(err)
	}
	// The subscription exists once the upgrade is done: nothing published
	// after Events returned is missed, and other types are filtered out.
	a.Core.Events.Publish(events.Event{Type: events.Login, Rack: "prod", Email: "me@example.com"})
	a.Core.Events.Publish(events.Event{Type: events.PromptPending, Rack: "prod", PromptID: "p1"})
	a.Core.Events.Publish(events.Event{Type: events.Logout, Rack: "prod"})
	var got []ipc.Event
	for len(got) < 2 {
		select {
		case e, ok := <-evs:
			if !ok {
				t.Fatalf("stream ended after %+v", got)
			}
			got = append(got, e)
		case <-ctx.Done():
			t.Fatalf("events so far %+v", got)
		}
	}
	if got[0].Type != events.PromptPending || got[0].PromptID != "p1" || got[1].Type != events.Logout {
		t.Fatalf("events %+v", got)
	}
	if got[1].Seq <= got[0].Seq || got[0].Time.IsZero() {
		t.Errorf("seq/time %+v", got)
	}
	// A stopping agent closes the stream.
	a.Srv.Stop()
	for {
		select {
		case _, ok := <-evs:
			if !ok {
				return
			}
		case <-ctx.Done():
			t.Fatal("the event stream outlived Stop")
		}
	}
}

// Another user's client sees the refusal every time, however its request
// and the agent's answer cross: the agent reads the request before it
// answers and drains the connection before it closes, so the client's
// write never meets a closed socket. (A client that writes and then reads
// failed about half the time when the answer came first.)
func TestRejectPeerAnswerAlwaysArrives(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(privateDir(t), "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	reject := server.RejectPeer(slog.New(slog.DiscardHandler))
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// As the listener calls it: on its own goroutine, then closed.
			go func() { defer c.Close(); reject(c, transport.PeerCred{UID: 4242}) }()
		}
	}()
	for i := 0; i < 50; i++ {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET /v1/run HTTP/1.1\r\nHost: agent\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"); err != nil {
			t.Fatalf("attempt %d: the request could not be sent: %v", i, err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("attempt %d: no answer: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "not the agent's owner") {
			t.Fatalf("attempt %d: %d %q %v", i, resp.StatusCode, body, err)
		}
		c.Close()
	}
}
