package ipc

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Arguments that are not UTF-8 cross the wire exactly when the agent
// reads argv_b64; valid ones stay readable JSON strings.
func TestArgvBytesRoundTrip(t *testing.T) {
	argv := []string{"env", "set", "BIN=a\xff\xfeb"}
	var inv Invocation
	inv.SetArgv(argv, true)
	b, err := json.Marshal(&inv)
	if err != nil {
		t.Fatal(err)
	}
	var got Invocation
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Argv[2] == argv[2] {
		t.Fatal("a JSON string carried invalid UTF-8: the test proves nothing")
	}
	if err := got.ArgvBytes(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Argv, argv) {
		t.Fatalf("argv %q, want %q", got.Argv, argv)
	}

	inv.SetArgv([]string{"env", "set", "A=é"}, true)
	if inv.ArgvB64 != nil {
		t.Errorf("valid UTF-8 sent as base64: %q", inv.ArgvB64)
	}
	inv.SetArgv(argv, false)
	if inv.ArgvB64 != nil {
		t.Error("argv_b64 sent to an agent that does not read it")
	}
	bad := Invocation{Argv: []string{"x"}, ArgvB64: []string{"not base64!"}}
	if err := bad.ArgvBytes(); err == nil {
		t.Error("bad base64 accepted")
	}
}

// argv and argv_b64 are one command line twice; a client that sent two
// different ones is refused, never run as either.
func TestArgvBytesRefusesTwoCommandLines(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for name, inv := range map[string]Invocation{
		"empty argv_b64":   {Argv: []string{"apps"}, ArgvB64: []string{}},
		"fewer in b64":     {Argv: []string{"apps", "-a", "x"}, ArgvB64: []string{b64("apps")}},
		"more in b64":      {Argv: []string{"apps"}, ArgvB64: []string{b64("apps"), b64("delete")}},
		"a different word": {Argv: []string{"apps", "info"}, ArgvB64: []string{b64("apps"), b64("delete")}},
	} {
		err := inv.ArgvBytes()
		if err == nil || AsError(err).Code != CodeBadRequest {
			t.Errorf("%s: ran %q (err %v)", name, inv.Argv, err)
		}
	}
}

func TestCheckTextNamesTheArgument(t *testing.T) {
	if e := CheckText([]string{"env", "set", "A=é"}); e != nil {
		t.Fatalf("valid UTF-8 refused: %v", e)
	}
	e := CheckText([]string{"env", "set", "BIN=a\xff\xfeb"})
	if e == nil || e.Code != CodeUsage {
		t.Fatalf("got %v", e)
	}
	for _, want := range []string{"argument 3 is not valid UTF-8", "0xff at offset 5"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q lacks %q", e.Message, want)
		}
	}
	if strings.Contains(e.Message, "BIN") {
		t.Errorf("the message shows the argument: %q", e.Message)
	}
}
