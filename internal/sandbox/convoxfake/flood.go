package convoxfake

import (
	"errors"
	"strings"

	"github.com/gorilla/websocket"
)

// LogFlood makes one log stream send a large amount of output as fast as
// the connection takes it, then end with a normal close even under Follow,
// so a client's relay throughput can be measured against a direct reader
// of the same stream (docs/performance.md).
type LogFlood struct {
	// Bytes is how much output the stream sends after its usual lines.
	Bytes int64 `json:"bytes"`
	// LineBytes is the length of each line, its newline included; 0
	// means 100. The last line may be shorter so the total is exact.
	LineBytes int `json:"line_bytes,omitempty"`
	// MessageBytes is how much output goes in one WebSocket message
	// (whole lines); 0 means 32 KiB, the chunk a busy app's stream
	// arrives in.
	MessageBytes int `json:"message_bytes,omitempty"`
}

// Limits of a flood: up to 8 GiB in messages no larger than the 1 MiB a
// relay is asked to carry in one piece.
const (
	maxFloodBytes   = 8 << 30
	maxFloodMessage = 1 << 20
)

func (f *LogFlood) normalize() error {
	if f.LineBytes == 0 {
		f.LineBytes = 100
	}
	if f.MessageBytes == 0 {
		f.MessageBytes = 32 << 10
	}
	switch {
	case f.Bytes <= 0 || f.Bytes > maxFloodBytes:
		return errors.New("bytes must be 1-8589934592")
	case f.LineBytes < 2 || f.LineBytes > maxFloodMessage:
		return errors.New("line_bytes must be 2-1048576")
	case f.MessageBytes < f.LineBytes || f.MessageBytes > maxFloodMessage:
		return errors.New("message_bytes must be line_bytes-1048576")
	}
	return nil
}

// FloodNextLogs arms one more upcoming log stream (app, process or system
// logs; not build logs or exec) to send f after its usual lines and then
// close normally. Streams take armed floods oldest first. It returns how
// many are armed.
func (rk *Rack) FloodNextLogs(f LogFlood) (int, error) {
	if err := f.normalize(); err != nil {
		return 0, err
	}
	rk.mu.Lock()
	defer rk.mu.Unlock()
	rk.floods = append(rk.floods, f)
	return len(rk.floods), nil
}

// takeFloodLocked consumes the oldest armed flood, if any.
func (rk *Rack) takeFloodLocked() (LogFlood, bool) {
	if len(rk.floods) == 0 {
		return LogFlood{}, false
	}
	f := rk.floods[0]
	rk.floods = rk.floods[1:]
	return f, true
}

// flood writes f's output. One message of whole lines is built once and
// sent again and again: the rack's own cost stays far below the client's.
func (st *wsStream) flood(f LogFlood) error {
	line := floodLine(f.LineBytes)
	perMsg := f.MessageBytes / f.LineBytes
	msg := []byte(strings.Repeat(line, perMsg))
	left := f.Bytes
	for left > 0 {
		chunk := msg
		if int64(len(chunk)) > left {
			chunk = chunk[:left]
			chunk[len(chunk)-1] = '\n'
		}
		if st.drop && st.sent >= 1 {
			st.cut()
			return errStreamCut
		}
		st.sent++
		if err := st.conn.WriteMessage(websocket.TextMessage, chunk); err != nil {
			return err
		}
		left -= int64(len(chunk))
	}
	return nil
}

// floodLine is one line of n bytes, newline included.
func floodLine(n int) string {
	body := "service/web/flood GET /flood 200 1ms "
	if len(body) < n-1 {
		body += strings.Repeat("x", n-1-len(body))
	}
	return body[:n-1] + "\n"
}
