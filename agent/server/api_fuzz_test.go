package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/agent/ledger"
	"github.com/rack-gateway/rack-gateway/agent/server"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/localapi"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
	"github.com/rack-gateway/rack-gateway/platform/secrets"
)

// fuzzAgent serves a fresh core on a socket for a whole fuzz run (the
// helpers in main_test.go take a *testing.T, which a fuzz setup has not).
func fuzzAgent(f *testing.F) (*core.Core, *http.Client) {
	dir := f.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		f.Fatal(err)
	}
	c := core.New(testVersion, nil, func(d string) (secrets.Store, error) {
		return secrets.Open(secrets.Options{Backend: secrets.BackendFile, FileDir: d})
	})
	c.MFA.UseLedger(ledger.Open(f.TempDir()))
	sock := filepath.Join(dir, "agent.sock")
	log := slog.New(slog.DiscardHandler)
	ln, err := transport.Listen(sock, transport.ListenOptions{OnReject: server.RejectPeer(log)})
	if err != nil {
		f.Fatal(err)
	}
	srv := server.New(c, sock, log)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return transport.Dial(ctx, sock) },
	}}
	f.Cleanup(func() {
		hc.CloseIdleConnections()
		srv.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = ln.Close()
		<-done
	})
	return c, hc
}

// post sends body to the agent and returns the status and response body.
func post(t *testing.T, hc *http.Client, method, path, ctype string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, localapi.URL(path), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: the agent did not answer: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// wantErrorBody fails unless an answer is the local API's JSON error.
func wantErrorBody(t *testing.T, status int, h http.Header, b []byte) {
	t.Helper()
	var eb ipc.ErrorBody
	if status < 400 || status >= 500 || h.Get("Content-Type") != "application/json" ||
		json.Unmarshal(b, &eb) != nil || eb.Error == nil || eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("answer %d %q is not a client-error JSON body", status, b)
	}
}

// FuzzLocalAPI posts any body to POST /v1/prompts/{id} for a pending
// prompt, any id, and any ?types= filter to /v1/events: the agent always
// answers, with 200 only when the prompt got exactly the value the body
// holds, and otherwise with a 4xx JSON error and the prompt still waiting.
func FuzzLocalAPI(f *testing.F) {
	for _, s := range []string{
		`{"value":"123456"}`,
		`{"value":""}`,
		`{"value":null}`,
		`{"value":"a\u0000b\ud800"}`,
		`{"VALUE":"x"}`,
		`{"value":"1","value":"2"}`,
		`{"value":"1","extra":true}`,
		`{"value":1}`,
		`{"value":"1"} {"value":"2"}`,
		`{"value":"1"} trailing`,
		`["value"]`,
		`{"value":"` + strings.Repeat("9", 70000) + `"}`,
		``,
	} {
		f.Add([]byte(s), "no-such-id", "login,logout")
	}
	f.Add([]byte(`{"value":"x"}`), "", "bogus")
	f.Add([]byte(`{"value":"x"}`), "../status", ",")
	f.Add([]byte(`{"value":"x"}`), "a/b", "LOGIN")
	c, hc := fuzzAgent(f)
	f.Fuzz(func(t *testing.T, body []byte, id, types string) {
		pp := c.Prompts.Add(core.PendingPrompt{Rack: "prod", Text: "MFA code: ", Secret: true})
		defer c.Prompts.Remove(pp.ID)
		status, h, b := post(t, hc, http.MethodPost, ipc.PathPrompts+pp.ID, "application/json", body)
		var got *string
		select {
		case v := <-pp.Answers():
			got = &v
		default:
		}
		if status == http.StatusOK {
			var want ipc.PromptAnswer
			_ = json.NewDecoder(bytes.NewReader(body)).Decode(&want)
			if got == nil || want.Value == nil || *got != *want.Value {
				t.Fatalf("200 for %q, but the prompt got %v", body, got)
			}
			var ok map[string]string
			if json.Unmarshal(b, &ok) != nil || ok["answered"] != pp.ID {
				t.Fatalf("200 body %q", b)
			}
		} else {
			wantErrorBody(t, status, h, b)
			if got != nil {
				t.Fatalf("answer %d, yet the prompt got %q", status, *got)
			}
		}

		if id != pp.ID {
			status, h, b = post(t, hc, http.MethodPost, ipc.PathPrompts+url.PathEscape(id), "application/json", []byte(`{"value":"1"}`))
			wantErrorBody(t, status, h, b)
		}
		status, h, b = post(t, hc, http.MethodGet, ipc.PathEvents+"?types="+url.QueryEscape(types), "", nil)
		wantErrorBody(t, status, h, b) // no upgrade: always refused, as JSON
	})
}
