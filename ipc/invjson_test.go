package ipc

import (
	"encoding/json"
	"reflect"
	"testing"
)

// AppendJSON must write what encoding/json writes, byte for byte, for
// every kind of value the invocation carries.
func TestInvocationAppendJSONMatchesEncodingJSON(t *testing.T) {
	odd := "q\"b\\s/<a&b>\x00\x01\b\f\n\r\t\x1f\x7f é 😀 \u2028\u2029 bad\xff\xfeend"
	cases := map[string]*Invocation{
		"zero":  {},
		"empty": {Argv: []string{}, Env: map[string]string{}},
		"typical": {
			Argv: []string{"apps", "--rack", "prod"}, Cwd: "/home/u/src", PID: 4242, Version: "v1.2.3",
			Env: map[string]string{"TERM": "xterm-256color", "LANG": "C.UTF-8", "RACK_GATEWAY_RACK": "prod"},
			TTY: TTYState{Stdin: true, Stdout: true}, Size: &WinSize{Cols: 120, Rows: 40},
			TTYName: "/dev/pts/3", CanPrompt: true,
		},
		"odd text": {
			Argv: []string{odd, ""}, ArgvB64: []string{"cQ==", ""}, Cwd: odd, Version: odd, TTYName: odd,
			Env: map[string]string{odd: odd, "": ""}, Size: &WinSize{Cols: -1}, PID: -7,
		},
	}
	for name, inv := range cases {
		want, err := json.Marshal(inv)
		if err != nil {
			t.Fatal(err)
		}
		if got := inv.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

// A field added to Invocation (or to a struct inside it) must be added to
// AppendJSON too: every field here is set, so a missing one shows.
func TestInvocationAppendJSONCoversEveryField(t *testing.T) {
	var inv Invocation
	fill(t, reflect.ValueOf(&inv).Elem())
	want, _ := json.Marshal(&inv)
	if got := inv.AppendJSON(nil); string(got) != string(want) {
		t.Errorf("AppendJSON misses a field:\n got %s\nwant %s", got, want)
	}
}

func fill(t *testing.T, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("s")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(7)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(t, v.Index(0))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, k)
		fill(t, e)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem())
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fill(t, v.Field(i))
		}
	default:
		t.Fatalf("fill: no value for a %s field: teach fill and AppendJSON about it", v.Kind())
	}
}

func BenchmarkInvocationAppendJSON(b *testing.B) {
	inv := &Invocation{Argv: []string{"apps"}, Cwd: "/home/u", Env: map[string]string{"TERM": "xterm", "LANG": "C"}, PID: 1, Version: "dev"}
	for i := 0; i < b.N; i++ {
		inv.AppendJSON(nil)
	}
}

// ParsePlainExit reads exactly the exit messages MarshalControl writes
// without an error, and nothing else.
func TestParsePlainExit(t *testing.T) {
	for _, status := range []int{0, 1, 5, 130, 255} {
		msg := MarshalControl(&Control{Type: MsgExit, Exit: &Exit{Status: status}})
		if got, ok := ParsePlainExit(msg); !ok || got != status {
			t.Errorf("ParsePlainExit(%s) = %d, %v", msg, got, ok)
		}
	}
	for _, msg := range []string{
		string(MarshalControl(&Control{Type: MsgExit, Exit: &Exit{Status: 1, Error: Errorf(CodeUsage, "no")}})),
		string(MarshalControl(&Control{Type: MsgExit})),
		`{"type":"exit","exit":{"status":}}`, `{"type":"exit","exit":{"status":-1}}`, `{"type":"exit","exit":{"status":+1}}`,
		`{"type":"exit","exit":{"status":1e3}}`, `{"type":"exit","exit":{"status":000}}`, `{"type":"exit","exit":{"status":01}}`, `{"type":"exit","exit":{"status":1234}}`, `{"type":"raw","raw":true}`, ``,
	} {
		if got, ok := ParsePlainExit([]byte(msg)); ok {
			t.Errorf("ParsePlainExit(%s) = %d, true; want false", msg, got)
		}
	}
}
