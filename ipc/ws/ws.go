// Package ws is a small RFC 6455 websocket client for the agent's socket.
//
// Why not gorilla/websocket, which the agent uses? The thin CLI runs on
// every command and every shell prompt, and linking net/http and
// crypto/tls (which gorilla's client needs) costs about a millisecond of
// package initialisation per process. The CLI only ever talks to a local
// socket it already dialled, so it needs just the upgrade handshake and
// framing, which fit here. The method names match gorilla's so the relay
// reads the same.
package ws

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/textproto"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Message types (RFC 6455 opcodes).
const (
	TextMessage   = 1
	BinaryMessage = 2
	CloseMessage  = 8
	PingMessage   = 9
	PongMessage   = 10
)

// CloseNormalClosure is the close code for a clean end.
const CloseNormalClosure = 1000

// MaxMessage bounds one reassembled message.
const MaxMessage = 16 << 20

// ErrBadHandshake means the server did not switch protocols.
var ErrBadHandshake = errors.New("websocket: bad handshake")

// CloseError is returned by ReadMessage when the peer closed the stream.
type CloseError struct {
	Code int
	Text string
}

func (e *CloseError) Error() string { return fmt.Sprintf("websocket: close %d %s", e.Code, e.Text) }

// Response is a refused handshake: the server's status and (bounded) body.
type Response struct {
	Status int
	Header textproto.MIMEHeader
	Body   []byte
}

// FormatCloseMessage builds a close frame payload.
func FormatCloseMessage(code int, text string) []byte {
	b := make([]byte, 2+len(text))
	binary.BigEndian.PutUint16(b, uint16(code))
	copy(b[2:], text)
	return b
}

// Conn is a client websocket connection.
type Conn struct {
	c   net.Conn
	br  *bufio.Reader
	wmu sync.Mutex
}

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Handshake upgrades an established connection. On a refusal it returns
// ErrBadHandshake and the server's response.
func Handshake(c net.Conn, host, path string, deadline time.Time) (*Conn, *Response, error) {
	conn, resp, err := HandshakeHeader(c, host, path, nil, deadline)
	if err == nil {
		resp = nil // a refusal only, as callers of Handshake expect
	}
	return conn, resp, err
}

// HandshakeHeader is Handshake with extra request headers. It returns the
// server's response on success too (status 101 and its headers, no body),
// so a client can read what the server said about itself.
//
// A refusal the server wrote before it read the request (the agent's
// answer to another user does) is still returned as a refusal: a failed
// write is followed by a read of whatever response is already there.
func HandshakeHeader(c net.Conn, host, path string, header map[string]string, deadline time.Time) (*Conn, *Response, error) {
	req, err := NewRequest(host, path, header)
	if err != nil {
		return nil, nil, err
	}
	return req.Handshake(c, deadline, nil)
}

// Request is an upgrade request made ready before the connection exists,
// so that it follows the connect at once: a server that finds it already
// there when it first reads need not wait for it a second time.
type Request struct {
	key, raw string
}

// NewRequest prepares the upgrade request for path on host with extra
// headers.
func NewRequest(host, path string, header map[string]string) (*Request, error) {
	// The key and masks need not be secret here: they defend HTTP
	// intermediaries against cache poisoning, and a Unix socket has none.
	// math/rand keeps crypto/rand's start-up cost out of every CLI run.
	var nonce [16]byte
	binary.LittleEndian.PutUint64(nonce[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(nonce[8:], rand.Uint64())
	key := base64.StdEncoding.EncodeToString(nonce[:])
	var req strings.Builder
	req.WriteString("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n")
	names := make([]string, 0, len(header))
	for k := range header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if strings.ContainsAny(k+header[k], "\r\n") {
			return nil, fmt.Errorf("websocket: bad header %q", k)
		}
		req.WriteString(k + ": " + header[k] + "\r\n")
	}
	req.WriteString("\r\n")
	return &Request{key: key, raw: req.String()}, nil
}

// Handshake sends the request on c and reads the answer, as
// HandshakeHeader does; sent, when not nil, runs once the request is
// written (or failed to be), before the answer is read.
func (r *Request) Handshake(c net.Conn, deadline time.Time, sent func()) (*Conn, *Response, error) {
	_ = c.SetDeadline(deadline)
	defer c.SetDeadline(time.Time{})
	key := r.key
	_, werr := io.WriteString(c, r.raw)
	if sent != nil {
		sent()
	}
	br := bufio.NewReaderSize(c, 32<<10)
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		if werr != nil {
			return nil, nil, werr
		}
		return nil, nil, err
	}
	parts := strings.SplitN(line, " ", 3)
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "HTTP/1.") {
		return nil, nil, fmt.Errorf("%w: %q", ErrBadHandshake, line)
	}
	status, _ := strconv.Atoi(parts[1])
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, nil, err
	}
	resp := &Response{Status: status, Header: hdr}
	if status != 101 {
		if n, err := strconv.Atoi(hdr.Get("Content-Length")); err == nil && n >= 0 && n <= 1<<20 {
			resp.Body = make([]byte, n)
			_, _ = io.ReadFull(br, resp.Body)
		}
		return nil, resp, ErrBadHandshake
	}
	if werr != nil {
		// A switch to a protocol for a request that never arrived.
		return nil, nil, werr
	}
	sum := sha1.Sum([]byte(key + acceptGUID))
	if hdr.Get("Sec-Websocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		return nil, nil, fmt.Errorf("%w: wrong Sec-WebSocket-Accept", ErrBadHandshake)
	}
	return &Conn{c: c, br: br}, resp, nil
}

// SetWriteDeadline bounds the next writes.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.c.SetWriteDeadline(t) }

// Close closes the underlying connection.
func (c *Conn) Close() error { return c.c.Close() }

// WriteMessage sends one unfragmented, masked message. Safe for
// concurrent use.
func (c *Conn) WriteMessage(typ int, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeFrame(typ, data)
}

// WriteControl sends a control frame with its own deadline.
func (c *Conn) WriteControl(typ int, data []byte, deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.c.SetWriteDeadline(deadline)
	defer c.c.SetWriteDeadline(time.Time{})
	return c.writeFrame(typ, data)
}

// WriteJSON sends v as a text message.
func (c *Conn) WriteJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.WriteMessage(TextMessage, b)
}

func (c *Conn) writeFrame(op int, data []byte) error {
	hdr := make([]byte, 0, 14)
	hdr = append(hdr, 0x80|byte(op)) // FIN
	switch n := len(data); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n <= 0xFFFF:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	hdr = append(hdr, mask[:]...)
	// Clients must mask every frame (the websocket protocol requires it).
	buf := make([]byte, len(hdr)+len(data))
	copy(buf, hdr)
	for i, b := range data {
		buf[len(hdr)+i] = b ^ mask[i&3]
	}
	_, err := c.c.Write(buf)
	return err
}

// ReadMessage returns the next data message, answering pings and
// reassembling fragments. A close from the peer is a *CloseError.
func (c *Conn) ReadMessage() (int, []byte, error) {
	var typ int
	var msg []byte
	for {
		fin, op, payload, err := c.readFrame()
		if err != nil {
			return 0, nil, err
		}
		switch op {
		case PingMessage:
			_ = c.WriteControl(PongMessage, payload, time.Now().Add(5*time.Second))
			continue
		case PongMessage:
			continue
		case CloseMessage:
			ce := &CloseError{Code: 1005}
			if len(payload) >= 2 {
				ce.Code = int(binary.BigEndian.Uint16(payload))
				ce.Text = string(payload[2:])
			}
			_ = c.WriteControl(CloseMessage, FormatCloseMessage(CloseNormalClosure, ""), time.Now().Add(time.Second))
			return 0, nil, ce
		case 0: // continuation
			if typ == 0 {
				return 0, nil, errors.New("websocket: continuation without a start")
			}
		case TextMessage, BinaryMessage:
			if typ != 0 {
				return 0, nil, errors.New("websocket: new message inside a fragmented one")
			}
			typ = op
		default:
			return 0, nil, fmt.Errorf("websocket: unknown opcode %d", op)
		}
		if fin && msg == nil {
			// A whole message in one frame, as the agent sends them: no
			// second copy.
			return typ, payload, nil
		}
		if len(msg)+len(payload) > MaxMessage {
			return 0, nil, errors.New("websocket: message too large")
		}
		msg = append(msg, payload...)
		if fin {
			if msg == nil {
				msg = []byte{}
			}
			return typ, msg, nil
		}
	}
}

func (c *Conn) readFrame() (fin bool, op int, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(c.br, h[:]); err != nil {
		return
	}
	fin, op = h[0]&0x80 != 0, int(h[0]&0x0F)
	masked := h[1]&0x80 != 0
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(c.br, b[:]); err != nil {
			return
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(c.br, b[:]); err != nil {
			return
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > MaxMessage {
		return false, 0, nil, errors.New("websocket: frame too large")
	}
	var mask [4]byte
	if masked {
		if _, err = io.ReadFull(c.br, mask[:]); err != nil {
			return
		}
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(c.br, payload); err != nil {
		return
	}
	if masked {
		for i := range payload {
			payload[i] ^= mask[i&3]
		}
	}
	return
}
