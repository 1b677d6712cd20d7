package cli

import (
	"context"
	"net/http"
	"net/textproto"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/buildinfo"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// agentHeader is what an agent of version v says in its 101.
func agentHeader(v string, running int) http.Header {
	return http.Header{
		ipc.HeaderVersion:      {v},
		ipc.HeaderCapability:   {"2"},
		ipc.HeaderCapabilities: {strings.Join(ipc.Capabilities, ",")},
		ipc.HeaderRunning:      {strconv.Itoa(running)},
	}
}

// setVersion makes this CLI version v for one test (not parallel).
func setVersion(t *testing.T, v string) {
	old := buildinfo.Version
	buildinfo.Version = v
	t.Cleanup(func() { buildinfo.Version = old })
}

func skewConnect(t *testing.T, a *fakeAgent, args ...string) (*agentInfo, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errw strings.Builder
	conn, info, err := connect(ctx, a.sock, &errw)
	if err != nil {
		t.Fatal(err)
	}
	conn, info, err = meetSkew(ctx, a.sock, conn, info, args, &errw)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	return info, errw.String()
}

// An agent older than the CLI and running nothing is stopped over the
// very connection that answered, and the command goes to its successor.
func TestOlderIdleAgentIsRestarted(t *testing.T) {
	setVersion(t, "v1.1.0")
	a := startFakeAgent(t, 0, func(n int32) http.Header {
		if n == 1 {
			return agentHeader("v1.0.0", 0)
		}
		return agentHeader("v1.1.0", 0)
	})
	info, msg := skewConnect(t, a, "racks")
	if info.Version != "v1.1.0" {
		t.Errorf("connected to %s", info.Version)
	}
	if runs := a.runs(); !reflect.DeepEqual(runs, [][]string{{"agent", "stop"}}) {
		t.Errorf("runs %q", runs)
	}
	if !strings.Contains(msg, "restarted the agent: it was v1.0.0, older than this CLI (v1.1.0)") {
		t.Errorf("stderr %q", msg)
	}
}

// A busy older agent is left alone, and the user is told how to restart
// it; so is one the command is about.
func TestOlderBusyAgentGetsAHint(t *testing.T) {
	setVersion(t, "v1.1.0")
	for _, c := range []struct {
		running int
		args    []string
	}{{2, []string{"racks"}}, {0, []string{"agent", "status"}}} {
		a := startFakeAgent(t, 0, func(int32) http.Header { return agentHeader("v1.0.0", c.running) })
		info, msg := skewConnect(t, a, c.args...)
		if info.Version != "v1.0.0" || len(a.runs()) != 0 {
			t.Errorf("%v: restarted: %s %q", c.args, info.Version, a.runs())
		}
		if !strings.Contains(msg, "the agent (v1.0.0) is older than this CLI (v1.1.0); run 'rack-gateway agent restart'") {
			t.Errorf("%v: stderr %q", c.args, msg)
		}
	}
	// Stopping it needs no advice.
	a := startFakeAgent(t, 0, func(int32) http.Header { return agentHeader("v1.0.0", 0) })
	if info, msg := skewConnect(t, a, "agent", "stop"); info.Version != "v1.0.0" || msg != "" || len(a.runs()) != 0 {
		t.Errorf("agent stop: %s %q %q", info.Version, msg, a.runs())
	}
}

// The same or a newer agent: nothing to say on this side (a newer agent
// says it itself).
func TestSameOrNewerAgentIsUsedAsIs(t *testing.T) {
	setVersion(t, "v1.1.0")
	for _, v := range []string{"v1.1.0", "v1.2.0"} {
		a := startFakeAgent(t, 0, func(int32) http.Header { return agentHeader(v, 0) })
		if _, msg := skewConnect(t, a, "racks"); msg != "" || len(a.runs()) != 0 {
			t.Errorf("%s: stderr %q, runs %q", v, msg, a.runs())
		}
	}
}

// An agent from before the handshake says nothing on the upgrade: it is
// older, cannot say it is idle, and does not read argv_b64.
func TestAgentWithoutTheHandshake(t *testing.T) {
	setVersion(t, "dev")
	a := parseAgentInfo(textproto.MIMEHeader{})
	if !a.older() || a.Running != -1 || a.has(ipc.CapArgvBytes) {
		t.Fatalf("%+v", a)
	}
	same := parseAgentInfo(textproto.MIMEHeader(agentHeader("dev", 0)))
	if same.older() || same.Running != 0 || !same.has(ipc.CapArgvBytes) {
		t.Fatalf("%+v", same)
	}
}

// "unknown command" from an older agent says why it may not know it.
func TestUnknownCommandFromAnOlderAgentNamesTheSkew(t *testing.T) {
	setVersion(t, "v1.1.0")
	old := parseAgentInfo(textproto.MIMEHeader(agentHeader("v1.0.0", 1)))
	err := old.explain(ipc.Errorf(ipc.CodeUsage, "unknown command %q for \"rack-gateway\"", "apps").WithHint("Run 'rack-gateway --help' for usage."))
	e, _ := err.(*ipc.Error)
	if e == nil || !strings.Contains(e.Hint, "older than this CLI (v1.1.0) and may not know this command: run 'rack-gateway agent restart'") {
		t.Fatalf("%+v", err)
	}
	same := parseAgentInfo(textproto.MIMEHeader(agentHeader("v1.1.0", 1)))
	if e := same.explain(ipc.Errorf(ipc.CodeUsage, "unknown command \"x\"")).(*ipc.Error); e.Hint != "" {
		t.Errorf("hint %q for a current agent", e.Hint)
	}
}
