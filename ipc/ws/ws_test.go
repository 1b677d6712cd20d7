package ws

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The client is tested against gorilla's server, which the agent uses.
func TestAgainstGorillaServer(t *testing.T) {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/refuse" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(403)
			w.Write([]byte(`{"error":{"code":"forbidden"}}`))
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second))
		for {
			typ, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			if string(b) == "bye" {
				c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "done"))
				continue
			}
			// Echo through NextWriter: gorilla fragments large messages at its
			// write buffer size, which exercises reassembly.
			wr, _ := c.NextWriter(typ)
			half := len(b) / 2
			wr.Write(b[:half])
			wr.Write(b[half:])
			wr.Close()
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	nc, _ := net.Dial("tcp", addr)
	if _, resp, err := Handshake(nc, "agent", "/refuse", time.Now().Add(time.Second)); err != ErrBadHandshake || resp.Status != 403 || !bytes.Contains(resp.Body, []byte("forbidden")) {
		t.Fatalf("refusal: %v %+v", err, resp)
	}

	nc, _ = net.Dial("tcp", addr)
	c, _, err := Handshake(nc, "agent", "/run", time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 200000)
	for _, m := range [][]byte{[]byte("hi"), {}, big} {
		if err := c.WriteMessage(BinaryMessage, m); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.ReadMessage()
		if err != nil || typ != BinaryMessage || !bytes.Equal(got, m) {
			t.Fatalf("echo of %d bytes: typ %d, %d bytes, %v", len(m), typ, len(got), err)
		}
	}
	c.WriteJSON(map[string]string{"a": "b"})
	if typ, got, _ := c.ReadMessage(); typ != TextMessage || string(got) != `{"a":"b"}` {
		t.Fatalf("json echo: %d %q", typ, got)
	}
	c.WriteMessage(TextMessage, []byte("bye"))
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*CloseError); !ok || ce.Code != 1000 || ce.Text != "done" {
		t.Fatalf("close: %v", err)
	}
}

// A server that answers before it reads the request (the agent's refusal
// of another user does) and hangs up makes the request's write fail; the
// refusal must still come back, not the broken pipe.
func TestRefusalWrittenBeforeTheRequestArrives(t *testing.T) {
	dir, err := os.MkdirTemp("", "rgws")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		body := `{"error":{"code":"forbidden"}}`
		io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
		c.Close()
	}()
	nc, err := net.Dial("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// Write only once the server has hung up: the write then fails.
	late := &lateConn{Conn: nc, wait: closed}
	_, resp, err := HandshakeHeader(late, "agent", "/v1/run", map[string]string{"X-Test": "1"}, time.Now().Add(5*time.Second))
	if err != ErrBadHandshake || resp == nil || resp.Status != 403 || !bytes.Contains(resp.Body, []byte("forbidden")) {
		t.Fatalf("got %v %+v", err, resp)
	}
}

// lateConn holds its first write until wait is closed.
type lateConn struct {
	net.Conn
	wait <-chan struct{}
}

func (c *lateConn) Write(p []byte) (int, error) {
	<-c.wait
	return c.Conn.Write(p)
}

// HandshakeHeader sends the extra headers and returns the 101's headers.
func TestHandshakeHeaderBothWays(t *testing.T) {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, http.Header{"X-Answer": {"got " + r.Header.Get("X-Question")}})
		if err == nil {
			c.Close()
		}
	}))
	defer srv.Close()
	nc, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	c, resp, err := HandshakeHeader(nc, "agent", "/", map[string]string{"X-Question": "v1"}, time.Now().Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if resp == nil || resp.Status != 101 || resp.Header.Get("X-Answer") != "got v1" {
		t.Fatalf("response %+v", resp)
	}
	if _, _, err := HandshakeHeader(nc, "agent", "/", map[string]string{"X-Bad": "a\r\nb"}, time.Now().Add(time.Second)); err == nil {
		t.Fatal("a header with a line break was sent")
	}
}
