package server_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
	"github.com/rack-gateway/rack-gateway/ipc/ws"
)

// upgradeWith opens /v1/run with the CLI's handshake headers and, when
// header is not "", the invocation on the upgrade (ipc.HeaderInvocation).
// It returns the connection and whether the agent took the invocation.
func upgradeWith(t *testing.T, a *agent, cliVersion, header string) (*ws.Conn, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	nc, err := transport.Dial(ctx, a.Socket)
	if err != nil {
		t.Fatal(err)
	}
	deadline, _ := ctx.Deadline()
	hello := map[string]string{ipc.HeaderCLIVersion: cliVersion, ipc.HeaderCLICapability: strconv.Itoa(ipc.Capability)}
	if header != "" {
		hello[ipc.HeaderInvocation] = header
	}
	conn, resp, err := ws.HandshakeHeader(nc, ipc.Host, ipc.PathRun, hello, deadline)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = nc.SetDeadline(deadline)
	return conn, resp.Header.Get(ipc.HeaderInvocation) == ipc.InvocationTaken
}

// readRun reads a run's stdout until its exit message.
func readRun(t *testing.T, conn *ws.Conn) (string, *ipc.Exit) {
	t.Helper()
	var out strings.Builder
	for {
		typ, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("stream ended before the exit message: %v (stdout %q)", err, out.String())
		}
		if typ == ws.BinaryMessage {
			if len(data) > 0 && ipc.Channel(data[0]) == ipc.ChanStdout {
				out.Write(data[1:])
			}
			continue
		}
		var c ipc.Control
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatalf("control %q: %v", data, err)
		}
		if c.Type == ipc.MsgExit {
			return out.String(), c.Exit
		}
	}
}

func invocationHeader(t *testing.T, inv ipc.Invocation) string {
	t.Helper()
	h, ok := ipc.EncodeInvocationHeader(inv.AppendJSON(nil))
	if !ok {
		t.Fatal("invocation too long for the header")
	}
	return h
}

// An invocation on the upgrade runs at once: the agent says it took it,
// and the command's output and exit follow with nothing more sent.
func TestRunTakesTheInvocationFromTheUpgrade(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	if !strings.Contains(","+strings.Join(ipc.Capabilities, ",")+",", ","+ipc.CapInvocationHeader+",") {
		t.Fatalf("capabilities %v lack %s", ipc.Capabilities, ipc.CapInvocationHeader)
	}
	conn, taken := upgradeWith(t, a, testVersion, invocationHeader(t, invocation(t, "racks")))
	if !taken {
		t.Fatal("the agent did not take the invocation from the upgrade")
	}
	out, exit := readRun(t, conn)
	if exit == nil || exit.Error != nil || !strings.Contains(out, "No racks configured") {
		t.Fatalf("exit %+v, stdout %q", exit, out)
	}
}

// The agent leaves the invocation on the upgrade alone, and reads it as
// the first message as an older agent would, for a CLI newer than itself
// (which may restart it before anything runs) and for a header that does
// not decode (the first message then gets the usual checks and refusal).
func TestRunLeavesTheInvocationForTheFirstMessage(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	good := invocationHeader(t, invocation(t, "version"))
	bad, _ := ipc.EncodeInvocationHeader([]byte(`{"argv":`))
	for name, c := range map[string]struct{ version, header string }{
		"newer CLI":     {"v99.0.0", good},
		"not base64url": {testVersion, "%%%"},
		"not JSON":      {testVersion, bad},
		"no header":     {testVersion, ""},
	} {
		conn, taken := upgradeWith(t, a, c.version, c.header)
		if taken {
			t.Errorf("%s: the agent took the invocation from the upgrade", name)
			continue
		}
		if err := conn.WriteJSON(invocation(t, "racks")); err != nil {
			t.Fatal(err)
		}
		out, exit := readRun(t, conn)
		if exit == nil || exit.Error != nil || !strings.Contains(out, "No racks configured") {
			t.Errorf("%s: exit %+v, stdout %q", name, exit, out)
		}
	}
}
