package convoxfake

import (
	"strings"
	"testing"
)

// A flooded log stream sends exactly the armed bytes in whole lines after
// its usual lines and ends with a normal close even under Follow; the next
// stream is an ordinary one again.
func TestFloodNextLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.wsServer()
	if _, err := e.rk.FloodNextLogs(LogFlood{Bytes: 100, LineBytes: 200, MessageBytes: 100}); err == nil {
		t.Fatal("a flood with lines longer than its messages was accepted")
	}
	if n, err := e.rk.FloodNextLogs(LogFlood{Bytes: 10_050, LineBytes: 50, MessageBytes: 1000}); err != nil || n != 1 {
		t.Fatalf("arm: %d %v", n, err)
	}
	msgs, err := readAll(mustDial(t, srv, "/apps/demo/logs", "Follow", "true"))
	wantNormalClose(t, err)
	flood := 0
	for _, m := range msgs {
		if !strings.Contains(m, "flood") {
			continue
		}
		if len(m) > 1000 || !strings.HasSuffix(m, "\n") {
			t.Fatalf("flood message of %d bytes, ending %q", len(m), m[len(m)-1:])
		}
		for _, l := range strings.SplitAfter(m, "\n") {
			if l != "" && len(l) != 50 {
				t.Fatalf("line of %d bytes: %q", len(l), l)
			}
		}
		flood += len(m)
	}
	if flood != 10_050 {
		t.Fatalf("flooded %d bytes, want 10050", flood)
	}
	msgs, err = readAll(mustDial(t, srv, "/apps/demo/logs"))
	wantNormalClose(t, err)
	if strings.Contains(strings.Join(msgs, ""), "flood") {
		t.Fatal("the flood was used twice")
	}
}
