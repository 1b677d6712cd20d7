package ws

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeConn is a net.Conn that reads a fixed server stream and records what
// the client writes. Before the first read, every "{accept}" in the stream
// becomes the Sec-WebSocket-Accept value for the key the client sent, so
// fuzzed handshakes can reach the success path.
type fakeConn struct {
	in       []byte
	r        *bytes.Reader
	out      bytes.Buffer
	writeErr error
}

func (c *fakeConn) Read(p []byte) (int, error) {
	if c.r == nil {
		in := c.in
		if key := keyOf(c.out.Bytes()); key != "" {
			sum := sha1.Sum([]byte(key + acceptGUID))
			in = bytes.ReplaceAll(in, []byte("{accept}"), []byte(base64.StdEncoding.EncodeToString(sum[:])))
		}
		c.r = bytes.NewReader(in)
	}
	return c.r.Read(p)
}

func (c *fakeConn) Write(p []byte) (int, error) {
	if c.writeErr != nil {
		return 0, c.writeErr
	}
	return c.out.Write(p)
}

func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return &net.UnixAddr{Name: "client", Net: "unix"} }
func (c *fakeConn) RemoteAddr() net.Addr             { return &net.UnixAddr{Name: "agent", Net: "unix"} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

func keyOf(req []byte) string {
	for _, line := range strings.Split(string(req), "\r\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && k == "Sec-WebSocket-Key" {
			return v
		}
	}
	return ""
}

// serverFrame encodes one unmasked frame as a server sends it.
func serverFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	h := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		h = append(h, byte(n))
	case n <= 0xFFFF:
		h = append(h, 126, byte(n>>8), byte(n))
	default:
		h = append(h, 127)
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	return append(h, payload...)
}

// readAll reads messages from stream until an error, checking what every
// reader of this package relies on.
func readAll(t *testing.T, stream []byte) (msgs [][]byte, written []byte, err error) {
	t.Helper()
	fc := &fakeConn{in: stream}
	c := &Conn{c: fc, br: bufio.NewReaderSize(fc, 32<<10)}
	total := 0
	for range 1000 {
		var typ int
		var msg []byte
		typ, msg, err = c.ReadMessage()
		if err != nil {
			break
		}
		if typ != TextMessage && typ != BinaryMessage {
			t.Fatalf("ReadMessage returned type %d", typ)
		}
		if msg == nil || len(msg) > MaxMessage {
			t.Fatalf("ReadMessage returned a message of %d bytes (nil %v)", len(msg), msg == nil)
		}
		total += len(msg)
		msgs = append(msgs, msg)
	}
	// Payloads come from the stream: the reader cannot invent bytes.
	if total > len(stream) {
		t.Fatalf("read %d payload bytes from a %d-byte stream", total, len(stream))
	}
	return msgs, fc.out.Bytes(), err
}

// FuzzReadMessage feeds arbitrary server bytes to the frame reader, and
// checks that a message framed in any number of fragments, with pings in
// between, reads back exactly.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte{0x81, 0x02, 'h', 'i'}, []byte("hello"), uint8(1), uint8(0))
	f.Add([]byte{0x89, 0x01, 'p', 0x82, 0x00}, []byte{}, uint8(2), uint8(3))
	f.Add([]byte{0x01, 0x01, 'a', 0x89, 0x00, 0x80, 0x01, 'b'}, []byte("fragmented"), uint8(1), uint8(4))
	f.Add([]byte{0x88, 0x05, 0x03, 0xe8, 'b', 'y', 'e'}, []byte{0, 1, 2, 255}, uint8(2), uint8(1))
	f.Add([]byte{0x81, 0x7e, 0x00, 0x03, 'a', 'b', 'c'}, bytes.Repeat([]byte("x"), 300), uint8(1), uint8(2))
	f.Add([]byte{0x81, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01}, []byte("big header"), uint8(1), uint8(0))
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1}, []byte("masked"), uint8(1), uint8(0))
	f.Add([]byte{0x80, 0x00}, []byte("x"), uint8(1), uint8(0))
	f.Add([]byte{0x83, 0x00}, []byte("x"), uint8(1), uint8(0))
	f.Fuzz(func(t *testing.T, stream, data []byte, typ, frags uint8) {
		// 1. An arbitrary stream: no panic, bounded memory, and every
		// frame the client writes back (pongs, the close reply) is one
		// well-formed masked control frame.
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, written, err := readAll(t, stream)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatal("a finite stream read without an error at its end")
		}
		// One frame header may claim up to MaxMessage before its payload
		// turns out to be missing; everything else is bounded by the input.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(8*len(stream))+MaxMessage+1<<20 {
			t.Fatalf("reading %d bytes allocated %d", len(stream), alloc)
		}
		var ce *CloseError
		if errors.As(err, &ce) && (ce.Code < 0 || ce.Code > 0xFFFF) {
			t.Fatalf("close code %d", ce.Code)
		}
		checkClientFrames(t, written)

		// 2. data as one message of typ, cut into frags fragments, with a
		// ping before each continuation: it reads back exactly.
		op := byte(TextMessage)
		if typ%2 == 0 {
			op = BinaryMessage
		}
		n := int(frags%8) + 1
		var s []byte
		for i := range n {
			lo, hi := len(data)*i/n, len(data)*(i+1)/n
			fop := op
			if i > 0 {
				s = append(s, serverFrame(true, PingMessage, data[lo:min(hi, lo+125)])...)
				fop = 0
			}
			s = append(s, serverFrame(i == n-1, fop, data[lo:hi])...)
		}
		msgs, _, err := readAll(t, append(s, serverFrame(true, CloseMessage, FormatCloseMessage(CloseNormalClosure, "done"))...))
		if len(msgs) != 1 || !bytes.Equal(msgs[0], data) {
			t.Fatalf("framed %d bytes in %d fragments, read back %d messages", len(data), n, len(msgs))
		}
		if !errors.As(err, &ce) || ce.Code != CloseNormalClosure || ce.Text != "done" {
			t.Fatalf("after the message: %v, want the close frame", err)
		}

		// 3. What WriteMessage sends, this reader reads back.
		fc := &fakeConn{}
		w := &Conn{c: fc}
		if err := w.WriteMessage(int(op), data); err != nil {
			t.Fatal(err)
		}
		msgs, _, _ = readAll(t, fc.out.Bytes())
		if len(msgs) != 1 || !bytes.Equal(msgs[0], data) {
			t.Fatalf("WriteMessage of %d bytes read back as %d messages", len(data), len(msgs))
		}
	})
}

// checkClientFrames parses what the client wrote while reading: only
// masked, final control frames.
func checkClientFrames(t *testing.T, b []byte) {
	t.Helper()
	r := &Conn{br: bufio.NewReader(bytes.NewReader(b))}
	for {
		h, err := r.br.Peek(2)
		if err != nil {
			if r.br.Buffered() > 0 {
				t.Fatalf("the client wrote a partial frame %x", h)
			}
			return
		}
		if h[1]&0x80 == 0 {
			t.Fatalf("client frame %x is not masked", h)
		}
		fin, op, _, err := r.readFrame()
		if err != nil {
			t.Fatalf("the client wrote a frame it cannot read back: %v", err)
		}
		if !fin || (op != PongMessage && op != CloseMessage) {
			t.Fatalf("the client wrote frame op %d fin %v while reading", op, fin)
		}
	}
}

// FuzzHandshake feeds arbitrary answers to the upgrade request.
func FuzzHandshake(f *testing.F) {
	ok := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
	f.Add([]byte(ok))
	f.Add([]byte(ok + "\x81\x02hi"))
	f.Add([]byte(ok + "\x88\x02\x03\xe8"))
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: wrong\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n{\"error\":{\"code\":\"forbidden\"}}"))
	f.Add([]byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 99999999\r\n\r\nshort"))
	f.Add([]byte("HTTP/1.1 500 Internal\r\nContent-Length: -1\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 200\r\n\r\n"))
	f.Add([]byte("SSH-2.0-OpenSSH\r\n"))
	f.Add([]byte("HTTP/1.1 101\r\nSec-WebSocket-Accept: {accept}\r\nX: a\r\n continued\r\n\r\n"))
	f.Add([]byte(""))
	f.Add([]byte("HTTP/1.1 101 OK\n\n"))
	f.Fuzz(func(t *testing.T, answer []byte) {
		fc := &fakeConn{in: answer}
		c, resp, err := Handshake(fc, "agent", "/v1/run", time.Now().Add(time.Second))

		// The request is one well-formed upgrade request.
		req, rerr := http.ReadRequest(bufio.NewReader(bytes.NewReader(fc.out.Bytes())))
		if rerr != nil || req.Method != http.MethodGet || req.URL.Path != "/v1/run" || req.Host != "agent" ||
			!strings.EqualFold(req.Header.Get("Upgrade"), "websocket") || req.Header.Get("Sec-WebSocket-Version") != "13" {
			t.Fatalf("bad upgrade request %q: %v", fc.out.Bytes(), rerr)
		}
		key, kerr := base64.StdEncoding.DecodeString(req.Header.Get("Sec-WebSocket-Key"))
		if kerr != nil || len(key) != 16 {
			t.Fatalf("Sec-WebSocket-Key %q", req.Header.Get("Sec-WebSocket-Key"))
		}

		switch {
		case err == nil:
			if c == nil || resp != nil {
				t.Fatalf("success with conn %v and refusal %+v", c, resp)
			}
			if !bytes.HasPrefix(answer, []byte("HTTP/1.")) || !bytes.Contains(answer, []byte("{accept}")) {
				t.Fatalf("accepted %q, which does not switch protocols with the right key", answer)
			}
			// Whatever follows the answer is the stream: reading it must
			// behave like any other stream.
			for range 100 {
				if _, _, err := c.ReadMessage(); err != nil {
					break
				}
			}
		case resp != nil:
			if !errors.Is(err, ErrBadHandshake) || c != nil {
				t.Fatalf("refusal with err %v", err)
			}
			if resp.Status == 101 {
				t.Fatal("a 101 answer reported as a refusal")
			}
			if len(resp.Body) > 1<<20 {
				t.Fatalf("refusal body of %d bytes kept", len(resp.Body))
			}
		default:
			if c != nil {
				t.Fatalf("error %v with a conn", err)
			}
		}
	})
}
