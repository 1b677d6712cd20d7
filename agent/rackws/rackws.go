// Package rackws speaks the Convox websocket framing (logs and exec)
// through the gateway's rack proxy (docs/gateway-protocol.md, "WebSockets through the proxy").
//
// Framing, end to end between this client and the rack:
//   - client → rack: stdin bytes as text messages; an empty binary message
//     is stdin EOF;
//   - rack → client: output as text messages; a binary message or a normal
//     close ends the stream;
//   - exec: the output ends with ExitMarker followed by the decimal exit
//     code. The marker may be split across messages, or share a message
//     with the last output, so it is searched in a sliding tail.
//
// A stream that vanishes (no marker, no close frame) ends with an error:
// reads have a deadline that pings keep pushing back, so a dead TCP
// connection is noticed even when the gateway never closes it.
package rackws

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rack-gateway/rack-gateway/agent/crash"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
)

// ExitMarker precedes an exec's exit code in its output.
const ExitMarker = "F1E49A85-0AD7-4AEF-A618-C249C6E6568D:"

// Timing of liveness checks. Variables so tests could shorten them.
var (
	// PingInterval matches the Convox SDK's 5 s ping.
	PingInterval = 5 * time.Second
	// ReadTimeout is how long a stream may stay silent (no message, no
	// pong) before it counts as lost: several missed pongs.
	ReadTimeout = 20 * time.Second
	// HandshakeTimeout bounds the dial and the upgrade.
	HandshakeTimeout = 15 * time.Second
)

// Dial describes one websocket request to the gateway.
type Dial struct {
	BaseURL string      // the gateway, e.g. https://gw.example.com
	Path    string      // full path, e.g. /api/v1/rack-proxy/apps/x/logs
	Token   string      // bearer credential
	Header  http.Header // Convox headers (Follow, Command, …) and MFA proof
	Agent   string      // User-Agent
}

// RefusedError is an HTTP answer to the upgrade request instead of a
// websocket: the gateway's 401/403/404, or the rack's refusal relayed.
type RefusedError struct {
	Status int
	Header http.Header
	Body   []byte
	URL    string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("websocket refused with HTTP %s", gateway.StatusLine(e.Status))
}

// LostError means the stream ended without its proper end: the connection
// dropped or went silent.
type LostError struct{ Err error }

// Error quotes the cause through SafeText: a close frame's reason is the
// server's text, and reaches the user's terminal.
func (e *LostError) Error() string {
	return fmt.Sprintf("the stream from the rack was cut off: %s", gateway.SafeText(fmt.Sprint(e.Err)))
}

func (e *LostError) Unwrap() error { return e.Err }

// Conn is one open Convox stream.
type Conn struct {
	ws   *websocket.Conn
	wmu  sync.Mutex // one writer at a time (gorilla's rule)
	done chan struct{}
	once sync.Once
	// rbuf holds the message next returned, reused for the next one: a
	// busy log stream is thousands of messages a second, and a fresh
	// buffer for each kept the garbage collector busy (docs/performance.md).
	rbuf []byte
	// pushed is when next last moved the read deadline.
	pushed time.Time
}

// Open dials the stream. A fresh Dialer is used on purpose: the shared
// DefaultDialer's settings are global and could be changed by any import.
func Open(ctx context.Context, d Dial) (*Conn, error) {
	u := d.BaseURL + d.Path
	switch {
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + strings.TrimPrefix(u, "https://")
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + strings.TrimPrefix(u, "http://")
	default:
		return nil, fmt.Errorf("unsupported gateway URL %q", d.BaseURL)
	}
	dialer := &websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: HandshakeTimeout,
		NetDialContext:   (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		// Verified TLS always; custom CAs come through SSL_CERT_FILE.
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12},
		ReadBufferSize:  32 << 10, WriteBufferSize: 32 << 10,
	}
	h := http.Header{}
	for k, v := range d.Header {
		h[k] = v
	}
	h.Set("Authorization", "Bearer "+d.Token)
	if d.Agent != "" {
		h.Set("User-Agent", d.Agent)
	}
	// No Origin: the gateway accepts none, or only its own (the same section).
	ws, resp, err := dialer.DialContext(ctx, u, h)
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			return nil, &RefusedError{Status: resp.StatusCode, Header: resp.Header, Body: body, URL: d.BaseURL + d.Path}
		}
		return nil, err
	}
	ws.SetReadLimit(16 << 20)
	c := &Conn{ws: ws, done: make(chan struct{})}
	_ = ws.SetReadDeadline(time.Now().Add(ReadTimeout))
	ws.SetPongHandler(func(string) error {
		return ws.SetReadDeadline(time.Now().Add(ReadTimeout))
	})
	crash.Go("rack stream pinger", c.pinger)
	return c, nil
}

func (c *Conn) pinger() {
	t := time.NewTicker(PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			// WriteControl may run alongside other writes.
			if c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second)) != nil {
				return
			}
		}
	}
}

// Close ends the stream politely and frees the connection.
func (c *Conn) Close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = c.ws.Close()
	})
}

func (c *Conn) write(typ int, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return c.ws.WriteMessage(typ, b)
}

// SendStdin relays r as text messages and then the EOF message. It returns
// when r ends or the stream does; errors are not reported because the
// output side decides how the stream ended.
func (c *Conn) SendStdin(r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if c.write(websocket.TextMessage, buf[:n]) != nil {
				return
			}
		}
		if err != nil {
			select {
			case <-c.done:
			default:
				_ = c.write(websocket.BinaryMessage, []byte{})
			}
			return
		}
	}
}

// next reads one message: ok=false when the stream ended properly (binary
// message or normal close). data is valid only until the next call.
func (c *Conn) next() (data []byte, ok bool, err error) {
	typ, r, err := c.ws.NextReader()
	if err == nil {
		data, err = readMessage(r, c.rbuf[:0])
		c.rbuf = data
	}
	if err != nil {
		if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
			return nil, false, nil
		}
		return nil, false, &LostError{Err: err}
	}
	// Moving the deadline is a timer change; once a second is plenty
	// for a 20 s timeout and spares a stream of small messages the cost.
	if now := time.Now(); now.Sub(c.pushed) > time.Second {
		c.pushed = now
		_ = c.ws.SetReadDeadline(now.Add(ReadTimeout))
	}
	if typ == websocket.BinaryMessage {
		return nil, false, nil
	}
	return data, true, nil
}

// readMessage appends the rest of one message from r to buf, growing it
// as needed (the read limit set in Open bounds it).
func readMessage(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// unblock closes the connection when ctx ends, so a blocked read returns.
func (c *Conn) unblock(ctx context.Context) func() {
	stop := context.AfterFunc(ctx, c.Close)
	return func() { stop() }
}

// Copy writes a log stream to out until it ends. A cancelled ctx ends it
// with ctx's error; the caller decides whether that is a success.
func (c *Conn) Copy(ctx context.Context, out io.Writer) error {
	defer c.unblock(ctx)()
	for {
		data, ok, err := c.next()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if _, err := out.Write(data); err != nil {
			return err
		}
	}
}

// ErrNoExitCode means an exec stream ended properly but without the exit
// marker, so the remote status is unknown.
var ErrNoExitCode = errors.New("the exec stream ended without an exit status")

// Exec writes an exec stream's output to out and returns the remote exit
// code found after the marker.
func (c *Conn) Exec(ctx context.Context, out io.Writer) (int, error) {
	defer c.unblock(ctx)()
	var s markerScanner
	for {
		data, ok, err := c.next()
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if err != nil || !ok {
			if code, found := s.code(); found {
				// The rack may drop the connection right after the
				// marker; the status is known, so that is a success.
				return code, nil
			}
			if w := s.flush(); len(w) > 0 {
				_, _ = out.Write(w)
			}
			if err != nil {
				return 0, err
			}
			return 0, ErrNoExitCode
		}
		if w := s.feed(data); len(w) > 0 {
			if _, err := out.Write(w); err != nil {
				return 0, err
			}
		}
	}
}

// markerScanner finds ExitMarker in a stream of chunks. It holds back the
// longest tail that could be the start of the marker.
type markerScanner struct {
	held  []byte
	found bool
	after []byte // bytes after the marker: the exit code
}

// feed takes one chunk and returns the output that is certainly not part
// of the marker.
func (s *markerScanner) feed(p []byte) []byte {
	if s.found {
		s.after = append(s.after, p...)
		return nil
	}
	buf := append(s.held, p...)
	if i := bytes.Index(buf, []byte(ExitMarker)); i >= 0 {
		s.found = true
		s.after = append(s.after, buf[i+len(ExitMarker):]...)
		s.held = nil
		return buf[:i]
	}
	keep := 0
	for k := min(len(buf), len(ExitMarker)-1); k > 0; k-- {
		if bytes.HasPrefix([]byte(ExitMarker), buf[len(buf)-k:]) {
			keep = k
			break
		}
	}
	out := buf[:len(buf)-keep]
	s.held = append([]byte(nil), buf[len(buf)-keep:]...)
	return out
}

// flush returns held bytes once the stream ended without a marker.
func (s *markerScanner) flush() []byte {
	h := s.held
	s.held = nil
	return h
}

// code parses the exit code after the marker: leading decimal digits.
func (s *markerScanner) code() (int, bool) {
	if !s.found {
		return 0, false
	}
	t := strings.TrimSpace(string(s.after))
	end := 0
	for end < len(t) && t[end] >= '0' && t[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(t[:end])
	if err != nil {
		return 0, false
	}
	return n, true
}
