package e2e

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/localapi"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
	"github.com/rack-gateway/rack-gateway/platform/statusfile"
)

func (e *env) client() *localapi.Client { return localapi.NewClient(e.socket()) }

// collect reads events until want types were all seen (in order), or fails.
func collect(t *testing.T, evs <-chan ipc.Event, want []string, d time.Duration) []ipc.Event {
	t.Helper()
	var got []ipc.Event
	deadline := time.After(d)
	i := 0
	for i < len(want) {
		select {
		case e, ok := <-evs:
			if !ok {
				t.Fatalf("event stream closed after %v", types(got))
			}
			got = append(got, e)
			if e.Type == want[i] {
				i++
			}
		case <-deadline:
			t.Fatalf("saw %v, still waiting for %v", types(got), want[i:])
		}
	}
	for j := 1; j < len(got); j++ {
		if got[j].Seq <= got[j-1].Seq {
			t.Errorf("events out of order: %v", got)
		}
	}
	return got
}

func types(es []ipc.Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Type)
	}
	return out
}

func TestEventsAndPromptAnsweredThroughTheAPI(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	evs, err := e.client().Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := e.startPTY("editor-answers", stepUpCmd...)
	got := collect(t, evs, []string{"command_started", "prompt_pending"}, 15*time.Second)
	id := got[len(got)-1].PromptID
	st, err := e.client().Status(ctx)
	if err != nil || len(st.Prompts) != 1 || st.Prompts[0].ID != id || !st.Prompts[0].Secret {
		t.Fatalf("status prompts: %+v %v", st, err)
	}
	if len(st.Racks) != 1 || st.Racks[0].Role == "" || len(st.Racks[0].Prompts) != 1 {
		t.Errorf("rack status: %+v", st.Racks)
	}
	// The editor answers; the terminal's prompt is withdrawn.
	if err := e.client().AnswerPrompt(ctx, id, totpCodes.next(t, sb, admin)); err != nil {
		t.Fatal(err)
	}
	got = collect(t, evs, []string{"prompt_answered", "window_opened", "command_finished"}, 15*time.Second)
	if got[0].AnsweredBy != "api" {
		t.Errorf("answered_by %q", got[0].AnsweredBy)
	}
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.Output())
	}
	if p.echoOff() {
		t.Error("terminal left without echo")
	}
	st, _ = e.client().Status(ctx)
	if w := st.Racks[0].Window; !w.Active || w.RemainingS < 500 || w.ExpiresAt == nil {
		t.Errorf("window after verify: %+v", w)
	}
	// Answering again: the prompt no longer exists.
	err = e.client().AnswerPrompt(ctx, id, "123456")
	if ie, ok := err.(*ipc.Error); !ok || ie.Code != ipc.CodeNotFound {
		t.Errorf("answer to a gone prompt: %v", err)
	}
	e.mustRun("logout")
	collect(t, evs, []string{"logout"}, 5*time.Second)
}

func TestLocalAPIBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustRun("racks")
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return transport.Dial(ctx, e.socket())
	}}, Timeout: 5 * time.Second}
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, "http://agent"+path, strings.NewReader(body))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s %s: content-type %q", method, path, ct)
		}
		return resp.StatusCode, b.String()
	}
	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/v1/events?types=window_opened,bogus", "", 400, `unknown event type \"bogus\"`},
		{"POST", "/v1/prompts/nope", `{"value":`, 400, "bad_request"},
		{"POST", "/v1/prompts/nope", `{"answer":"x"}`, 400, "bad_request"},
		{"POST", "/v1/prompts/nope", `{"value":"123456"}`, 404, "no pending prompt"},
		{"GET", "/v1/nothing", "", 404, "not_found"},
	}
	for _, c := range cases {
		status, body := do(c.method, c.path, c.body)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s %s %s: %d %s", c.method, c.path, c.body, status, body)
		}
	}
	_, err := e.client().Events(context.Background(), "nope")
	if ie, ok := err.(*ipc.Error); !ok || ie.Code != ipc.CodeBadRequest {
		t.Errorf("Go client filter error: %v", err)
	}
}

func TestStatusFileFollowsLoginWindowAndLogout(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	path := filepath.Join(e.Runtime, "rack-gateway", "status")
	read := func() string { b, _ := os.ReadFile(path); return string(b) }
	waitFor(t, "status file with the rack", 5*time.Second, func() bool {
		return strings.Contains(read(), "prod ") && strings.Contains(read(), admin)
	})
	p := e.startPTY("open", stepUpCmd...)
	p.waitText("Enter TOTP code:", 10*time.Second)
	p.typeSecret(totpCodes.next(t, sb, admin))
	p.wait(10 * time.Second)
	entries, err := statusfile.Read(path)
	if err != nil || len(entries) != 1 || !entries[0].Current || time.Until(entries[0].Expires) < 9*time.Minute {
		t.Fatalf("status file after verify: %+v %v\n%s", entries, err, read())
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("status file mode %v", st.Mode().Perm())
	}
	r := e.mustRun("prompt")
	if !strings.HasPrefix(strings.TrimSpace(r.Out), "prod 🔓 9m") && !strings.HasPrefix(strings.TrimSpace(r.Out), "prod 🔓 10m") {
		t.Errorf("prompt: %q", r.Out)
	}
	e.mustRun("logout")
	waitFor(t, "status file removed on logout", 5*time.Second, func() bool {
		_, err := os.Stat(path)
		return os.IsNotExist(err)
	})
}
