package ws

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
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
