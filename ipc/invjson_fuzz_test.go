package ipc

import (
	"encoding/json"
	"testing"
)

// FuzzInvocationJSON holds the hand-written encoder and the plain exit
// parser (both written to keep encoding/json off the CLI's fast path) to
// encoding/json: AppendJSON must write exactly what json.Marshal writes,
// for any text, valid UTF-8 or not; the invocation header must read back
// what it carried; and ParsePlainExit must accept only what the JSON
// decoder reads as a plain exit, with the same status.
func FuzzInvocationJSON(f *testing.F) {
	f.Add("apps", "--rack", "/home/u", "TERM", "xterm", "/dev/pts/3", 4242, 120, []byte(`{"type":"exit","exit":{"status":0}}`))
	f.Add("q\"b\\s/<a&b>\x00\x1f\x7f", "\u2028\u2029", "bad\xff\xfe", "", "é😀", "", -7, -1, []byte(`{"type":"exit","exit":{"status":130}}`))
	f.Add("", "", "", "A=B", "C", "", 0, 0, []byte(`{"type":"exit","exit":{"status":1,"error":{"code":"usage"}}}`))
	f.Fuzz(func(t *testing.T, a0, a1, cwd, k, v, tty string, pid, cols int, exitMsg []byte) {
		inv := &Invocation{Argv: []string{a0, a1}, Cwd: cwd, Env: map[string]string{k: v}, TTYName: tty, PID: pid,
			Version: a1, CanPrompt: pid%2 == 0, TTY: TTYState{Stdin: cols%2 == 0, Stderr: true}}
		if cols != 0 {
			inv.Size = &WinSize{Cols: cols, Rows: pid}
		}
		inv.SetArgv(inv.Argv, true)
		want, err := json.Marshal(inv)
		if err != nil {
			t.Fatal(err)
		}
		got := inv.AppendJSON(nil)
		if string(got) != string(want) {
			t.Fatalf("AppendJSON differs from encoding/json:\n got %s\nwant %s", got, want)
		}
		if hv, ok := EncodeInvocationHeader(got); ok {
			back, err := DecodeInvocationHeader(hv)
			if err != nil {
				t.Fatalf("the header does not read back: %v", err)
			}
			if back.Argv[0] != a0 || back.Argv[1] != a1 {
				t.Fatalf("argv %q came back as %q", []string{a0, a1}, back.Argv)
			}
		}

		status, ok := ParsePlainExit(exitMsg)
		if !ok {
			return
		}
		var c Control
		if err := json.Unmarshal(exitMsg, &c); err != nil {
			t.Fatalf("ParsePlainExit took %q, which is not JSON: %v", exitMsg, err)
		}
		if c.Type != MsgExit || c.Exit == nil || c.Exit.Error != nil || c.Exit.Status != status {
			t.Fatalf("ParsePlainExit(%q) = %d, but it decodes as %+v", exitMsg, status, c.Exit)
		}
	})
}
