package server_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/server"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
	"github.com/rack-gateway/rack-gateway/ipc/ws"
)

// The upgrade of /v1/run says which agent answered, what it can do and
// how many commands it runs.
func TestRunUpgradeCarriesTheVersionHandshake(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := transport.Dial(ctx, a.Socket)
	if err != nil {
		t.Fatal(err)
	}
	deadline, _ := ctx.Deadline()
	conn, resp, err := ws.HandshakeHeader(nc, ipc.Host, ipc.PathRun, map[string]string{ipc.HeaderCLIVersion: testVersion}, deadline)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h := resp.Header
	if h.Get(ipc.HeaderVersion) != testVersion || h.Get(ipc.HeaderCapability) != strconv.Itoa(ipc.Capability) ||
		h.Get(ipc.HeaderCapabilities) != strings.Join(ipc.Capabilities, ",") || h.Get(ipc.HeaderRunning) != "0" {
		t.Fatalf("upgrade headers %v", h)
	}
}

// Arguments sent as argv_b64 arrive exactly; ones that are not UTF-8 are
// refused naming the argument, before the command runs.
func TestRunRefusesArgumentsThatAreNotText(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	inv := invocation(t, "env", "set", "BIN=a\xff\xfeb")
	inv.SetArgv(inv.Argv, true)
	res := a.run(t, inv)
	if res.Exit.Error == nil || res.Exit.Error.Code != ipc.CodeUsage ||
		!strings.Contains(res.Exit.Error.Message, "argument 3 is not valid UTF-8 (byte 0xff at offset 5)") {
		t.Fatalf("exit %+v", res.Exit.Error)
	}
	// Valid text sent the same way runs.
	inv = invocation(t, "racks")
	inv.ArgvB64 = []string{"cmFja3M="}
	if res := a.run(t, inv); res.Exit.Error != nil || !strings.Contains(res.Stdout, "No racks configured") {
		t.Fatalf("argv_b64 racks: %+v %q", res.Exit.Error, res.Stdout)
	}
	// Two different command lines are refused, and neither runs.
	inv.Argv = []string{"version"}
	if res := a.run(t, inv); res.Exit.Error == nil || res.Exit.Error.Code != ipc.CodeBadRequest || res.Stdout != "" {
		t.Fatalf("argv and argv_b64 differ: %+v %q", res.Exit.Error, res.Stdout)
	}
}

// An agent newer than the CLI says so in one line on the command's
// stderr, and runs the command; a CLI of the same version hears nothing.
func TestRunTellsAnOlderCLIToUpdate(t *testing.T) {
	t.Parallel()
	a := startAgent(t, func(s *server.Server) { s.Core.Version = "v2.0.0" })
	inv := invocation(t, "racks")
	inv.Version = "v1.9.0"
	res := a.run(t, inv)
	if res.Exit.Error != nil || res.Stderr != "rack-gateway: this CLI (v1.9.0) is older than the agent (v2.0.0); update the rack-gateway CLI to match.\n" {
		t.Fatalf("exit %+v, stderr %q", res.Exit.Error, res.Stderr)
	}
	inv.Version = "v2.0.0"
	if res := a.run(t, inv); res.Stderr != "" {
		t.Errorf("stderr %q", res.Stderr)
	}
}
