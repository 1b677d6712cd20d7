package rackws

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// FuzzExitMarker feeds an exec's output to the exit-marker scanner in
// chunks cut anywhere and checks it against the plain definition: the
// output is everything before the first marker, the code is the leading
// digits after it, whatever the chunking; without a marker every byte comes
// out, in order.
func FuzzExitMarker(f *testing.F) {
	f.Add([]byte("hello\n"+ExitMarker+"0"), []byte{3, 7})
	f.Add([]byte("partial"+ExitMarker[:10]), []byte{1})
	f.Add([]byte(ExitMarker[:5]+ExitMarker+"127\n"), []byte{2, 2, 2})
	f.Add([]byte("x"+ExitMarker+" 42 trailing"+ExitMarker+"1"), []byte{40})
	f.Add([]byte(ExitMarker), []byte{})
	f.Add([]byte(ExitMarker+"99999999999999999999999"), []byte{5})
	f.Add([]byte(ExitMarker+"-1"), []byte{0, 0, 1})
	f.Add([]byte("F1E49A85F1E49A85-0AD7"), []byte{4, 4})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		var s markerScanner
		var out []byte
		rest := data
		for _, c := range cuts {
			n := min(int(c), len(rest))
			out = append(out, s.feed(rest[:n])...)
			rest = rest[n:]
		}
		out = append(out, s.feed(rest)...)
		code, found := s.code()
		if !found {
			out = append(out, s.flush()...)
		}

		i := bytes.Index(data, []byte(ExitMarker))
		if i < 0 {
			if s.found || found || !bytes.Equal(out, data) {
				t.Fatalf("no marker in %q, but output %q (found %v)", data, out, s.found)
			}
			return
		}
		if !s.found || !bytes.Equal(out, data[:i]) {
			t.Fatalf("marker at %d of %q: output %q (found %v)", i, data, out, s.found)
		}
		after := strings.TrimSpace(string(data[i+len(ExitMarker):]))
		end := 0
		for end < len(after) && after[end] >= '0' && after[end] <= '9' {
			end++
		}
		want, err := strconv.Atoi(after[:end])
		if found != (err == nil) || (found && code != want) {
			t.Fatalf("after the marker %q: code %d, %v; want %d, %v", after, code, found, want, err == nil)
		}
		if found && code < 0 {
			t.Fatalf("negative exit code %d", code)
		}
	})
}

// execCase is what the fake rack sends on one exec stream.
type execCase struct {
	msgs [][]byte
	end  uint8
}

// FuzzExecStream runs Exec against a websocket server that sends an exec's
// output as text messages cut anywhere and ends the stream in each way a
// rack or a network can: the output and the status must be those of the
// bytes sent, and an unknown status is an error, never exit code 0.
func FuzzExecStream(f *testing.F) {
	f.Add([]byte("hello\n"+ExitMarker+"3"), []byte{2, 30}, uint8(0))
	f.Add([]byte("out"+ExitMarker+"0\n"), []byte{}, uint8(2))
	f.Add([]byte("no marker"), []byte{4}, uint8(1))
	f.Add([]byte("cut"+ExitMarker[:7]), []byte{1, 1}, uint8(2))
	f.Add([]byte("x"+ExitMarker), []byte{}, uint8(3))
	f.Add([]byte("\x1b[2J"+ExitMarker+"  12 "), []byte{0, 0, 5}, uint8(3))
	cases := make(chan execCase, 1)
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		ec := <-cases
		for _, m := range ec.msgs {
			if c.WriteMessage(websocket.TextMessage, m) != nil {
				return
			}
		}
		switch ec.end % 4 {
		case 0: // the Convox end of stream
			_ = c.WriteMessage(websocket.BinaryMessage, nil)
		case 1:
			_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		case 2: // dropped: no close frame
		case 3:
			_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInternalServerErr, "\x1b]0;boom\x07"))
		}
		// Read until the client closes, so every message is delivered.
		if ec.end%4 != 2 {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}
	}))
	f.Cleanup(srv.Close)
	f.Fuzz(func(t *testing.T, data, cuts []byte, end uint8) {
		var msgs [][]byte
		rest := data
		for _, c := range cuts {
			n := min(int(c), len(rest))
			msgs = append(msgs, rest[:n])
			rest = rest[n:]
		}
		msgs = append(msgs, rest)
		cases <- execCase{msgs: msgs, end: end}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := Open(ctx, Dial{BaseURL: srv.URL, Path: "/exec", Token: "tok"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var out bytes.Buffer
		code, err := c.Exec(ctx, &out)

		i := bytes.Index(data, []byte(ExitMarker))
		want, wantCode := data, -1
		if i >= 0 {
			want = data[:i]
			after := strings.TrimSpace(string(data[i+len(ExitMarker):]))
			end := 0
			for end < len(after) && after[end] >= '0' && after[end] <= '9' {
				end++
			}
			if n, err := strconv.Atoi(after[:end]); err == nil {
				wantCode = n
			}
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("output %q, want %q", out.Bytes(), want)
		}
		var lost *LostError
		switch {
		case wantCode >= 0:
			if err != nil || code != wantCode {
				t.Fatalf("code %d, err %v; want %d", code, err, wantCode)
			}
		case end%4 < 2:
			if !errors.Is(err, ErrNoExitCode) {
				t.Fatalf("a clean end without a status: %v", err)
			}
		default:
			if !errors.As(err, &lost) {
				t.Fatalf("a lost stream without a status: %v", err)
			}
			if strings.ContainsAny(err.Error(), "\x1b\x07") {
				t.Fatalf("the close reason reaches the terminal raw: %q", err.Error())
			}
		}
	})
}
