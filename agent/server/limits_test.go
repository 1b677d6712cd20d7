package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rack-gateway/rack-gateway/agent/server"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/localapi"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
	"github.com/rack-gateway/rack-gateway/ipc/ws"
)

// An invocation over the limit is refused with a typed error that names
// the limit, after the agent read it all: the client's write completes and
// it reads the refusal instead of a broken pipe.
func TestRunRefusesAnInvocationOverTheLimit(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	inv := invocation(t, "env", "set", "BIG="+strings.Repeat("x", ipc.MaxInvocation+1000))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, err := transport.Dial(ctx, a.Socket)
	if err != nil {
		t.Fatal(err)
	}
	deadline, _ := ctx.Deadline()
	conn, _, err := ws.Handshake(nc, ipc.Host, ipc.PathRun, deadline)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = nc.SetDeadline(deadline)
	if err := conn.WriteJSON(inv); err != nil {
		t.Fatalf("writing the invocation: %v", err)
	}
	typ, data, err := conn.ReadMessage()
	if err != nil || typ != ws.TextMessage {
		t.Fatalf("no exit message: %v", err)
	}
	var c ipc.Control
	if err := json.Unmarshal(data, &c); err != nil || c.Type != ipc.MsgExit || c.Exit == nil || c.Exit.Error == nil {
		t.Fatalf("got %s", data)
	}
	e := c.Exit.Error
	if e.Code != ipc.CodeUsage || c.Exit.Status != ipc.ExitUsage || !strings.Contains(e.Message, "too long") || !strings.Contains(e.Message, "1 MiB") {
		t.Fatalf("exit %+v %+v", c.Exit, e)
	}
	// The agent is still there for the next command.
	if res := a.run(t, invocation(t, "racks")); res.Exit.Error != nil {
		t.Fatalf("next command: %+v", res.Exit.Error)
	}
}

// An events subscriber that sends a big message is cut off at the read
// limit instead of having the agent buffer it.
func TestEventsSubscriberMessagesAreBounded(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := a.API.Dialer().DialContext(ctx, localapi.WebsocketURL(ipc.PathEvents), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	checkAgentHeaders(t, resp) // on the 101 too
	deadline, _ := ctx.Deadline()
	_ = conn.SetWriteDeadline(deadline)
	// The write may fail once the agent hangs up; the close is the answer.
	_ = conn.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("x"), 256<<10))
	_ = conn.SetReadDeadline(deadline)
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("read after a 256 KiB message: %v, want close %d", err, websocket.CloseMessageTooBig)
	}
}

// A prompt answer's body is bounded and an oversized one says so.
func TestAnswerBodyIsBounded(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	body := `{"value":"` + strings.Repeat("1", 100<<10) + `"}`
	resp, b := a.do(t, http.MethodPost, ipc.PathPrompts+"nope", body, nil)
	e := apiError(t, resp, b, http.StatusRequestEntityTooLarge, ipc.CodeBadRequest)
	if !strings.Contains(e.Message, "64 KiB") {
		t.Errorf("message %q", e.Message)
	}
}

// Request headers are bounded well below net/http's default megabyte.
func TestRequestHeadersAreBounded(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, a.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	// The agent stops reading at its limit, so the write may never
	// finish; the status line is the answer.
	go func() {
		_, _ = io.WriteString(c, "GET /v1/status HTTP/1.1\r\nHost: agent\r\nX-Big: "+strings.Repeat("y", 128<<10)+"\r\n\r\n")
	}()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(line, " 431 ") {
		t.Fatalf("answer to 128 KiB of headers: %q %v", line, err)
	}
}

// A client that sends its headers and then stalls in the body is dropped
// at the request timeout; one that stalls in the headers at the header
// timeout. Neither holds the agent.
func TestSlowClientsAreDropped(t *testing.T) {
	t.Parallel()
	a := startAgent(t, func(s *server.Server) {
		s.SetTimeouts(server.Timeouts{Header: 200 * time.Millisecond, Request: 300 * time.Millisecond})
	})
	for _, start := range []string{
		"POST " + ipc.PathPrompts + "x HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"va",
		"GET " + ipc.PathStatus + " HTTP/1.1\r\nHost: agent\r\nX-Slow: ",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := transport.Dial(ctx, a.Socket)
		if err != nil {
			t.Fatal(err)
		}
		deadline, _ := ctx.Deadline()
		_ = c.SetDeadline(deadline)
		if _, err := io.WriteString(c, start); err != nil {
			t.Fatal(err)
		}
		// The agent answers (400, 408) or hangs up; either way the read
		// ends long before the test's deadline.
		_, err = io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the agent still holds a client that sent %q", start)
		}
		c.Close()
		cancel()
	}
}
