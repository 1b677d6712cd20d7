package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/buildinfo"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
	websocket "github.com/rack-gateway/rack-gateway/ipc/ws"
)

// handshakeWait bounds one websocket handshake with the agent.
const handshakeWait = 5 * time.Second

// handshakeAttempts bounds the tries when an agent hangs up in the middle
// of the handshake (it is stopping): each new try finds the agent gone and
// starts a new one, or finds the new one.
const handshakeAttempts = 3

// connect dials the agent's run endpoint, starting the agent when nothing
// answers (through its service when installed), and upgrades the
// connection to a websocket. Notices about the start go to errw.
//
// An agent that closes the connection during the handshake is stopping
// ("agent stop" just ran, or it is being restarted): nothing was sent that
// could have run, so connect tries again rather than fail the command.
func connect(ctx context.Context, sock string, errw io.Writer) (*websocket.Conn, *agentInfo, error) {
	return connectRun(ctx, sock, errw, nil)
}

// runHello is what a command's connection sends beyond connect's own
// handshake headers.
type runHello struct {
	// invocation is the ipc.HeaderInvocation value, "" for none.
	invocation string
	// sigs is caught before the handshake is sent (an agent may start
	// the command on reading it), and let go while an agent starts, so
	// that Ctrl-C then ends this process as it did before any agent ran.
	sigs *caughtSignals
}

func (h *runHello) signals() *caughtSignals {
	if h == nil {
		return nil
	}
	return h.sigs
}

// connectRun is connect for a command: h's headers go on the upgrade.
func connectRun(ctx context.Context, sock string, errw io.Writer, h *runHello) (*websocket.Conn, *agentInfo, error) {
	for attempt := 1; ; attempt++ {
		conn, info, err := connectOnce(ctx, sock, errw, h)
		if err == nil {
			return conn, info, nil
		}
		var cut *cutOff
		if !errors.As(err, &cut) {
			return nil, nil, err
		}
		if attempt == handshakeAttempts || ctx.Err() != nil {
			return nil, nil, ipc.Errorf(ipc.CodeAgentUnavailable, "the agent closed the connection during the handshake, %d times: %v", attempt, cut.err).
				WithHint("Run 'rack-gateway agent status' to see whether it is running, or 'rack-gateway-agent run' in another terminal to see why.")
		}
		// Give the stopping agent a moment to finish closing its socket.
		t := time.NewTimer(time.Duration(attempt) * 20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// cutOff is a handshake the agent ended without an answer.
type cutOff struct{ err error }

func (c *cutOff) Error() string { return "cut off: " + c.err.Error() }

func connectOnce(ctx context.Context, sock string, errw io.Writer, h *runHello) (*websocket.Conn, *agentInfo, error) {
	// The request is made before the dial and Ctrl-C caught before the
	// dial too, so that the request follows the connect at once: the
	// agent then finds it on its first read.
	hello := map[string]string{
		ipc.HeaderCLIVersion:    buildinfo.Version,
		ipc.HeaderCLICapability: strconv.Itoa(ipc.Capability),
	}
	if h != nil && h.invocation != "" {
		hello[ipc.HeaderInvocation] = h.invocation
	}
	req, err := websocket.NewRequest(ipc.Host, ipc.PathRun, hello)
	if err != nil {
		return nil, nil, ipc.Errorf(ipc.CodeInternal, "the agent handshake: %v", err)
	}
	h.signals().wait()
	nc, err := transport.Dial(ctx, sock)
	if err != nil && transport.IsNotRunning(err) {
		h.signals().pause()
		nc, err = launch(ctx, sock, errw)
		h.signals().resume()
	}
	if err != nil {
		var typed *ipc.Error
		if errors.As(err, &typed) {
			return nil, nil, typed
		}
		return nil, nil, ipc.Errorf(ipc.CodeAgentUnavailable, "cannot reach the agent on %s: %v", sock, err).
			WithHint("Run 'rack-gateway-agent run' in another terminal to see why, or use --no-agent.")
	}
	// Guarding starts once the request is out: a signal that comes
	// between the write and the guard waits in the channel for it.
	unguard := func() bool { return false }
	conn, resp, err := req.Handshake(nc, time.Now().Add(handshakeWait), func() { unguard = h.signals().guard(nc) })
	if unguard() {
		nc.Close()
		return nil, nil, ipc.Interrupted("interrupted")
	}
	if err == nil {
		info := parseAgentInfo(resp.Header)
		info.taken = h != nil && h.invocation != "" && resp.Header.Get(ipc.HeaderInvocation) == ipc.InvocationTaken
		return conn, info, nil
	}
	nc.Close()
	if resp != nil {
		var eb ipc.ErrorBody
		if json.Unmarshal(resp.Body, &eb) == nil && eb.Error != nil {
			return nil, nil, eb.Error
		}
		return nil, nil, ipc.Errorf(ipc.CodeAgentUnavailable, "the agent refused the connection (HTTP %d)", resp.Status)
	}
	if hungUp(err) {
		return nil, nil, &cutOff{err}
	}
	return nil, nil, ipc.Errorf(ipc.CodeAgentUnavailable, "the agent closed the connection during the handshake: %v", err)
}

// hungUp reports whether err means the peer closed the connection, as
// opposed to a timeout (a wedged agent, which a new one would not fix).
func hungUp(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
