package rackws

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The marker can arrive whole, split anywhere, or glued to the last output.
func TestMarkerScannerSplits(t *testing.T) {
	stream := "hello\nF1E49A85 is not it\n" + ExitMarker + "42"
	for cut1 := 0; cut1 <= len(stream); cut1++ {
		for _, cut2 := range []int{cut1, (cut1 + len(stream)) / 2, len(stream)} {
			var s markerScanner
			var out strings.Builder
			for _, part := range []string{stream[:cut1], stream[cut1:cut2], stream[cut2:]} {
				out.Write(s.feed([]byte(part)))
			}
			code, ok := s.code()
			if !ok || code != 42 || out.String() != "hello\nF1E49A85 is not it\n" {
				t.Fatalf("cuts %d/%d: code %d %v, out %q", cut1, cut2, code, ok, out.String())
			}
		}
	}
}

func TestMarkerScannerNoMarker(t *testing.T) {
	var s markerScanner
	got := string(s.feed([]byte("abc F1E49A85-0AD7"))) + string(s.flush())
	if got != "abc F1E49A85-0AD7" {
		t.Fatalf("got %q", got)
	}
	if _, ok := s.code(); ok {
		t.Fatal("found a code without a marker")
	}
}

// wsServer upgrades one connection and hands it to fn.
func wsServer(t *testing.T, fn func(*websocket.Conn, *http.Request)) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		fn(c, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// A stream that goes silent and stops answering pings (a dead TCP path
// with no FIN) must end with an error, not hang.
func TestSilentStreamTimesOut(t *testing.T) {
	oldPing, oldRead := PingInterval, ReadTimeout
	PingInterval, ReadTimeout = 50*time.Millisecond, 300*time.Millisecond
	defer func() { PingInterval, ReadTimeout = oldPing, oldRead }()
	release := make(chan struct{})
	defer close(release)
	url := wsServer(t, func(c *websocket.Conn, _ *http.Request) {
		_ = c.WriteMessage(websocket.TextMessage, []byte("partial "))
		<-release // never read: pings go unanswered
	})
	c, err := Open(context.Background(), Dial{BaseURL: url, Path: "/x", Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out strings.Builder
	start := time.Now()
	_, err = c.Exec(context.Background(), &out)
	var lost *LostError
	if !errors.As(err, &lost) || out.String() != "partial " {
		t.Fatalf("err %v, out %q", err, out.String())
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s", d)
	}
}

// The framing: bearer on the upgrade, stdin as text, EOF as an empty
// binary message; output before the marker is output.
func TestExecFraming(t *testing.T) {
	url := wsServer(t, func(c *websocket.Conn, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("Command") != "cat" || r.Header.Get("Origin") != "" {
			_ = c.WriteMessage(websocket.TextMessage, []byte("bad headers"+ExitMarker+"99"))
			return
		}
		for {
			typ, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			if typ == websocket.BinaryMessage && len(data) == 0 {
				_ = c.WriteMessage(websocket.TextMessage, []byte("done"+ExitMarker[:10]))
				_ = c.WriteMessage(websocket.TextMessage, []byte(ExitMarker[10:]+"4"))
				_ = c.WriteMessage(websocket.BinaryMessage, nil)
				return
			}
			if typ != websocket.TextMessage {
				return
			}
			_ = c.WriteMessage(websocket.TextMessage, data)
		}
	})
	c, err := Open(context.Background(), Dial{BaseURL: url, Path: "/x", Token: "tok", Header: http.Header{"Command": {"cat"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go c.SendStdin(strings.NewReader("abc"))
	var out strings.Builder
	code, err := c.Exec(context.Background(), &out)
	if err != nil || code != 4 || out.String() != "abcdone" {
		t.Fatalf("code %d err %v out %q", code, err, out.String())
	}
}

// A refused upgrade keeps the gateway's status and body for the caller.
func TestRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Mfa-Required", "step-up")
		http.Error(w, "MFA required", http.StatusUnauthorized)
	}))
	defer srv.Close()
	_, err := Open(context.Background(), Dial{BaseURL: srv.URL, Path: "/x", Token: "tok"})
	var ref *RefusedError
	if !errors.As(err, &ref) || ref.Status != 401 || ref.Header.Get("X-Mfa-Required") != "step-up" || !strings.Contains(string(ref.Body), "MFA required") {
		t.Fatalf("err %v", err)
	}
}

// A close frame's reason is the server's text: it reaches the user's
// terminal inert.
func TestLostErrorTextIsInert(t *testing.T) {
	url := wsServer(t, func(c *websocket.Conn, _ *http.Request) {
		msg := websocket.FormatCloseMessage(websocket.CloseInternalServerErr, "\x1b]0;owned\x07\x1b[2Jboom")
		_ = c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	})
	c, err := Open(context.Background(), Dial{BaseURL: url, Path: "/x", Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out strings.Builder
	_, err = c.Exec(context.Background(), &out)
	var lost *LostError
	if !errors.As(err, &lost) {
		t.Fatalf("err %v", err)
	}
	if s := err.Error(); strings.ContainsRune(s, 0x1b) || strings.ContainsRune(s, 0x07) || !strings.Contains(s, `\x1b[2Jboom`) {
		t.Errorf("error text %q", s)
	}
}
