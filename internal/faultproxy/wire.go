package faultproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// The wire side of the proxy: one connection to the server per request,
// the relay of upgraded streams, and answers written by hand, so a fault
// can declare a length it does not send.

// reset closes c with a TCP RST rather than a FIN: SO_LINGER 0 makes the
// kernel discard unsent data and reset.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// upstream is one connection to the server, with the reader the answer's
// head was read through: it may already hold the first bytes of an
// upgraded stream.
type upstream struct {
	conn net.Conn
	r    *bufio.Reader
	p    *Proxy
}

func (u *upstream) Close() error {
	u.p.untrack(u.conn)
	return u.conn.Close()
}

// forward sends req on a new connection to the server (one per request:
// the proxy's own keep-alive is of no interest to a test) and reads the
// answer's head. The caller closes the connection.
func (p *Proxy) forward(req *http.Request, body []byte) (*upstream, *http.Response, error) {
	conn, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	if !p.track(conn) {
		return nil, nil, errors.New("proxy closed")
	}
	up := &upstream{conn: conn, r: bufio.NewReader(conn), p: p}
	out := req.Clone(req.Context())
	out.RequestURI = ""
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	out.TransferEncoding = nil
	if !isUpgrade(req) {
		out.Close = true
	}
	if err := out.Write(conn); err != nil {
		_ = up.Close()
		return nil, nil, err
	}
	resp, err := http.ReadResponse(up.r, req)
	if err != nil {
		_ = up.Close()
		return nil, nil, err
	}
	return up, resp, nil
}

func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

// splice relays bytes both ways until either side ends. For a CutStream
// fault, once AfterBytes bytes came from the server, both connections are
// reset mid-stream.
func (p *Proxy) splice(c net.Conn, br *bufio.Reader, up *upstream, f *Fault) {
	p.mu.Lock()
	p.streams[c] = up.conn
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.streams, c)
		p.mu.Unlock()
	}()
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(up.conn, br)
		if tc, ok := up.conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}()
	go func() {
		relayDown(c, up, f)
		done <- struct{}{}
	}()
	<-done
	_ = c.Close()
	_ = up.Close()
	<-done
}

// relayDown copies the server's stream to the client, and cuts both with
// a reset after f.AfterBytes when f is a CutStream fault.
func relayDown(c net.Conn, up *upstream, f *Fault) {
	if f == nil || f.Kind != CutStream {
		_, _ = io.Copy(c, up.r)
		return
	}
	left := f.AfterBytes
	buf := make([]byte, 32<<10)
	for left > 0 {
		n, err := up.r.Read(buf[:min(len(buf), left)])
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
			left -= n
		}
		if err != nil {
			return
		}
	}
	reset(c)
	reset(up.conn)
}

// writeResponse writes a whole answer: head and body. declared is the
// Content-Length to announce, -1 for none.
func writeResponse(c net.Conn, status int, h http.Header, body []byte, declared int) error {
	if err := writeHead(c, status, h, declared); err != nil {
		return err
	}
	_, err := c.Write(body)
	return err
}

// writeHead writes the status line and headers, with the framing headers
// replaced: the proxy always sends a body whole, with its length.
func writeHead(c net.Conn, status int, h http.Header, declared int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	out := h.Clone()
	if status != http.StatusSwitchingProtocols && !strings.EqualFold(out.Get("Connection"), "close") {
		out.Del("Connection")
	}
	out.Del("Content-Length")
	out.Del("Transfer-Encoding")
	if declared >= 0 {
		out.Set("Content-Length", fmt.Sprint(declared))
	}
	if err := out.Write(&b); err != nil {
		return err
	}
	b.WriteString("\r\n")
	_, err := io.WriteString(c, b.String())
	return err
}
