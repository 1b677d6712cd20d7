package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/events"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
	"github.com/rack-gateway/rack-gateway/ipc/ws"
)

// runResult is what a relay client saw of one /v1/run.
type runResult struct {
	Stdout, Stderr string
	Exit           *ipc.Exit
	// Controls are the control message types before the exit, in order.
	Controls []string
}

// run carries one invocation over /v1/run the way the CLI's relay does
// (the same websocket client and frames) and collects the stream until the
// exit message.
func (a *agent) run(t *testing.T, inv ipc.Invocation) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, err := transport.Dial(ctx, a.Socket)
	if err != nil {
		t.Fatal(err)
	}
	deadline, _ := ctx.Deadline()
	conn, resp, err := ws.Handshake(nc, ipc.Host, ipc.PathRun, deadline)
	if err != nil {
		nc.Close()
		if resp != nil {
			t.Fatalf("handshake refused: %d %s", resp.Status, resp.Body)
		}
		t.Fatal(err)
	}
	defer conn.Close()
	// Nothing here may wait longer than the test's own deadline.
	_ = nc.SetDeadline(deadline)
	if err := conn.WriteJSON(inv); err != nil {
		t.Fatal(err)
	}
	var res runResult
	var out, errOut strings.Builder
	for {
		typ, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("stream ended before the exit message: %v (stdout %q, stderr %q)", err, out.String(), errOut.String())
		}
		if typ == ws.BinaryMessage {
			if len(data) == 0 {
				t.Fatal("empty binary frame")
			}
			switch ipc.Channel(data[0]) {
			case ipc.ChanStdout:
				out.Write(data[1:])
			case ipc.ChanStderr:
				errOut.Write(data[1:])
			default:
				t.Fatalf("frame on channel %d", data[0])
			}
			continue
		}
		var c ipc.Control
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatalf("control %q: %v", data, err)
		}
		if c.Type != ipc.MsgExit {
			res.Controls = append(res.Controls, c.Type)
			continue
		}
		if c.Exit == nil {
			t.Fatal("exit message without an exit")
		}
		res.Stdout, res.Stderr, res.Exit = out.String(), errOut.String(), c.Exit
		_ = conn.WriteControl(ws.CloseMessage, ws.FormatCloseMessage(ws.CloseNormalClosure, ""), time.Now().Add(time.Second))
		return res
	}
}

// invocation is a non-interactive command line against a private config
// directory.
func invocation(t *testing.T, argv ...string) ipc.Invocation {
	return ipc.Invocation{
		Argv: argv, Cwd: t.TempDir(), PID: os.Getpid(), Version: testVersion,
		Env: map[string]string{"GATEWAY_CLI_CONFIG_DIR": t.TempDir(), "RACK_GATEWAY_NONINTERACTIVE": "1"},
	}
}

func TestRunRacksRoundTrip(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	evs, err := a.API.Events(ctx, events.CommandStarted, events.CommandFinished)
	if err != nil {
		t.Fatal(err)
	}

	res := a.run(t, invocation(t, "racks"))
	if res.Exit.Status != 0 || res.Exit.Error != nil {
		t.Fatalf("exit %+v, stderr %q", res.Exit, res.Stderr)
	}
	if !strings.Contains(res.Stdout, "No racks configured") {
		t.Fatalf("stdout %q", res.Stdout)
	}
	if res.Stderr != "" {
		t.Errorf("stderr %q", res.Stderr)
	}

	var got []ipc.Event
	for len(got) < 2 {
		select {
		case e := <-evs:
			got = append(got, e)
		case <-ctx.Done():
			t.Fatalf("events so far %+v", got)
		}
	}
	if got[0].Type != events.CommandStarted || got[0].Command != "racks" || got[0].PID != os.Getpid() {
		t.Errorf("started %+v", got[0])
	}
	if got[1].Type != events.CommandFinished || got[1].Command != "racks" || got[1].Exit == nil || *got[1].Exit != 0 {
		t.Errorf("finished %+v", got[1])
	}
}

// A failed command ends with its typed error and the matching status.
func TestRunUsageErrorOnTheWire(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	res := a.run(t, invocation(t, "no-such-command"))
	if res.Exit.Error == nil || res.Exit.Error.Code != ipc.CodeUsage {
		t.Fatalf("exit %+v", res.Exit)
	}
	if res.Exit.Status != ipc.ExitStatus(ipc.CodeUsage) {
		t.Errorf("status %d, want %d", res.Exit.Status, ipc.ExitStatus(ipc.CodeUsage))
	}
	if !strings.Contains(res.Exit.Error.Message, "no-such-command") {
		t.Errorf("message %q", res.Exit.Error.Message)
	}
}

func TestRunNeedsUpgrade(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	resp, body := a.do(t, http.MethodPost, ipc.PathRun, `{"argv":["racks"]}`, nil)
	apiError(t, resp, body, http.StatusBadRequest, ipc.CodeBadRequest)
	checkAgentHeaders(t, resp)
}

// "agent stop" answers its caller, and the agent accepts no connection
// after it.
func TestRunAgentStop(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	res := a.run(t, invocation(t, "agent", "stop"))
	if res.Exit.Status != 0 || res.Exit.Error != nil {
		t.Fatalf("exit %+v, stderr %q", res.Exit, res.Stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := transport.Dial(ctx, a.Socket); err == nil {
		c.Close()
		t.Fatal("a new connection was accepted after agent stop answered")
	} else if !transport.IsNotRunning(err) {
		t.Fatalf("dial after agent stop: %v", err)
	}
	select {
	case <-a.Srv.Stopping():
	case <-ctx.Done():
		t.Fatal("Stopping not closed after agent stop")
	}
	// The listener closed before the answer, but Serve must not return
	// before the stop is requested: the daemon, waiting on both, would
	// take Serve's return for a failure and exit without shutting down.
	select {
	case r := <-a.Served:
		a.Served <- r // for the cleanup
		if r.Err != nil || !r.Stopped {
			t.Fatalf("Serve returned (err %v) before a stop was requested (%v)", r.Err, r.Stopped)
		}
	case <-ctx.Done():
		t.Fatal("Serve did not return after agent stop")
	}
}
