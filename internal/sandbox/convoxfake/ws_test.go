package convoxfake

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestExecEchoAndMarkerVariants(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.wsServer()
	splits, combined := 0, 0
	for i := 1; i <= 8; i++ {
		msgs, err := readAll(e.exec(srv, `echo "hello  world"`, "Height", "24", "Width", "80"))
		wantNormalClose(t, err)
		if out, code := parseExec(t, msgs); out != "hello  world\n" || code != "0" {
			t.Fatalf("exec %d: output %q code %q (%q)", i, out, code, msgs)
		}
		last := msgs[len(msgs)-1]
		if !strings.Contains(last, ExecMarker) {
			splits++
		}
		if strings.HasPrefix(last, "hello") {
			combined++
		}
	}
	if splits != 2 || combined != 2 {
		t.Fatalf("marker variants: %d split, %d combined with output", splits, combined)
	}
	// A tty translates newlines like a pty.
	msgs, _ := readAll(e.exec(srv, "echo hi", "Tty", "true"))
	if out, _ := parseExec(t, msgs); out != "hi\r\n" {
		t.Fatalf("tty output %q", out)
	}
}

func TestExecExitCodeSplitMarker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.wsServer()
	msgs, err := readAll(e.exec(srv, "exit 3"))
	wantNormalClose(t, err)
	if len(msgs) != 2 || strings.Contains(msgs[0], ExecMarker) || strings.Contains(msgs[1], ExecMarker) {
		t.Fatalf("marker not split: %q", msgs)
	}
	if out, code := parseExec(t, msgs); out != "" || code != "3" {
		t.Fatalf("output %q code %q", out, code)
	}
	for cmd, want := range map[string]string{"sh -c 'exit 7'": "7", "nope": "127", "false": "1", "sleep 0": "0", "cat /etc/x": "1"} {
		msgs, _ := readAll(e.exec(srv, cmd))
		if _, code := parseExec(t, msgs); code != want {
			t.Errorf("%s: code %q, want %s", cmd, code, want)
		}
	}
	msgs, _ = readAll(e.exec(srv, "env"))
	if out, _ := parseExec(t, msgs); !strings.Contains(out, "FOO=bar\n") || !strings.Contains(out, "SECRET_KEY_BASE=sandbox-secret-key-base\n") ||
		!strings.Contains(out, "HOSTNAME="+SeedWebPID+"\n") {
		t.Fatalf("env output %q", out)
	}
}

func TestExecCatUntilEOF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.wsServer()
	c := e.exec(srv, "cat")
	for _, line := range []string{"first line\n", "second line\n"} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	// Input after EOF is ignored.
	for _, m := range []struct {
		typ  int
		data string
	}{{websocket.BinaryMessage, ""}, {websocket.TextMessage, "late\n"}} {
		if err := c.WriteMessage(m.typ, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := readAll(c)
	wantNormalClose(t, err)
	if out, code := parseExec(t, msgs); out != "first line\nsecond line\n" || code != "0" {
		t.Fatalf("cat output %q code %q", out, code)
	}

	// An interactive shell runs a line at a time until exit.
	c = e.exec(srv, "sh")
	_ = c.WriteMessage(websocket.TextMessage, []byte("echo one\necho two\nexit 4\n"))
	msgs, _ = readAll(c)
	if out, code := parseExec(t, msgs); out != "one\ntwo\n" || code != "4" {
		t.Fatalf("sh output %q code %q", out, code)
	}
}

func TestLogsWithoutFollow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.wsServer()
	msgs, err := readAll(mustDial(t, srv, "/apps/demo/logs", "Follow", "false", "Prefix", "true", "Since", "2m0s"))
	wantNormalClose(t, err)
	if len(msgs) != 6 || !strings.HasPrefix(msgs[0], e.clock.Now().Add(-50*time.Second).Format(time.RFC3339)+" service/") {
		t.Fatalf("app logs %q", msgs)
	}
	// Without Since the seeded promotion an hour ago shows too.
	msgs, _ = readAll(mustDial(t, srv, "/apps/demo/logs"))
	if len(msgs) != 7 || msgs[0] != "release "+SeedReleaseID+" promoted\n" {
		t.Fatalf("all app logs %q", msgs)
	}
	msgs, _ = readAll(mustDial(t, srv, "/apps/demo/logs", "Filter", "worker"))
	if len(msgs) != 3 || msgs[0] != "booting worker\n" {
		t.Fatalf("filtered logs %q", msgs)
	}
	msgs, _ = readAll(mustDial(t, srv, "/apps/demo/logs", "Since", "25s"))
	if len(msgs) != 0 {
		t.Fatalf("since 25s %q", msgs)
	}
	msgs, _ = readAll(mustDial(t, srv, "/apps/demo/processes/"+SeedWorkerPID+"/logs"))
	if len(msgs) != 3 || msgs[2] != "processed job 1\n" {
		t.Fatalf("process logs %q", msgs)
	}
	msgs, err = readAll(mustDial(t, srv, "/system/logs"))
	wantNormalClose(t, err)
	if len(msgs) != 3 || !strings.HasPrefix(msgs[0], "rack sandbox running") {
		t.Fatalf("system logs %q", msgs)
	}
	if _, resp, err := dial(t, srv, "/apps/nope/logs"); err == nil || resp.StatusCode != 404 {
		t.Fatalf("unknown app logs: %v", err)
	}
}

func TestLogsFollow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.FollowInterval = time.Millisecond })
	srv := e.wsServer()
	c := mustDial(t, srv, "/apps/demo/logs", "Follow", "true")
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var followed int
	for i := 0; followed < 3; i++ {
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if strings.Contains(string(data), "(follow ") {
			followed++
		}
	}
	// The client ends a followed stream; the server answers the close.
	if err := c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")); err != nil {
		t.Fatal(err)
	}
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			wantNormalClose(t, err)
			break
		}
	}
}

func TestBuildLogsCompleteTheBuild(t *testing.T) {
	t.Parallel()
	e, done := newEnvWithCompletions(t)
	srv := e.wsServer()
	e.do("POST", "/apps/demo/objects/tmp/x.tgz", nil)
	newBuild := func() string {
		return decode(t, e.do("POST", "/apps/demo/builds", url.Values{"url": {"object://demo/tmp/x.tgz"}}))["id"].(string)
	}
	// A dropped log stream never reached its end, so the build runs on.
	id := newBuild()
	e.rk.DropNextWebSocket()
	_, _ = readAll(mustDial(t, srv, "/apps/demo/builds/"+id+"/logs"))
	if len(done.all()) != 0 {
		t.Fatal("a dropped log stream completed the build")
	}
	id = newBuild()
	msgs, err := readAll(mustDial(t, srv, "/apps/demo/builds/"+id+"/logs"))
	wantNormalClose(t, err)
	if len(msgs) < 5 || msgs[0] != "Building: .\n" {
		t.Fatalf("build logs %q", msgs)
	}
	// The completion is reported before the close frame is sent.
	if got := done.all(); len(got) != 1 || got[0].Build != id {
		t.Fatalf("completions %+v", got)
	}
	if b := decode(t, e.do("GET", "/apps/demo/builds/"+id, nil)); b["status"] != "complete" || b["release"] != done.all()[0].Release {
		t.Fatalf("build after logs %v", b)
	}
	if _, resp, err := dial(t, srv, "/apps/demo/builds/BNOPE/logs"); err == nil || resp.StatusCode != 404 {
		t.Fatalf("unknown build logs: %v", err)
	}
}

func TestUpgradeOriginCheck(t *testing.T) {
	t.Parallel()
	// Without CheckOrigin, gorilla's default: an Origin must name the Host.
	e := newEnv(t)
	srv := e.wsServer()
	if _, resp, err := dial(t, srv, "/system/logs", "Origin", "http://elsewhere.example"); err == nil || resp.StatusCode != 403 {
		t.Fatalf("cross-origin upgrade: %v", err)
	}
	_, _ = readAll(mustDial(t, srv, "/system/logs", "Origin", srv.URL))

	// A gateway's check replaces it.
	e = newEnv(t, func(c *Config) {
		c.CheckOrigin = func(r *http.Request) bool { return r.Header.Get("Origin") == "http://gateway.example" }
	})
	srv = e.wsServer()
	_, _ = readAll(mustDial(t, srv, "/system/logs", "Origin", "http://gateway.example"))
	if _, resp, err := dial(t, srv, "/system/logs", "Origin", srv.URL); err == nil || resp.StatusCode != 403 {
		t.Fatalf("refused origin: %v", err)
	}
	// Without an upgrade a stream route answers the upgrader's 400.
	wantText(t, e.do("GET", "/system/logs", nil), 400, "Bad Request\n")
}

func TestDropNextWebSocket(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.wsServer()
	if n := e.rk.DropNextWebSocket(); n != 1 {
		t.Fatalf("armed %d", n)
	}
	msgs, err := readAll(e.exec(srv, "echo cut"))
	var ce *websocket.CloseError
	if len(msgs) != 1 || msgs[0] != "cut\n" || (errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure) {
		t.Fatalf("dropped exec: %q, %v", msgs, err)
	}
	// Only one stream was armed.
	msgs, err = readAll(e.exec(srv, "exit 0"))
	wantNormalClose(t, err)
	if _, code := parseExec(t, msgs); code != "0" {
		t.Fatalf("next exec %q", msgs)
	}
	// Without output a dropped exec sends nothing at all: no marker.
	e.rk.DropNextWebSocket()
	msgs, err = readAll(e.exec(srv, "exit 3"))
	if len(msgs) != 0 || websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("dropped exit: %q, %v", msgs, err)
	}
	// A dropped log stream stops after its first line, without a close.
	e.rk.DropNextWebSocket()
	msgs, err = readAll(mustDial(t, srv, "/apps/demo/logs"))
	if len(msgs) != 1 || websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("dropped logs: %q, %v", msgs, err)
	}
}
