package ipc

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzInvocation decodes arbitrary first messages of /v1/run as the agent
// does, and checks that whatever decodes encodes back to the same
// invocation: the agent and the CLI agree on every field.
func FuzzInvocation(f *testing.F) {
	for _, s := range []string{
		`{"argv":["apps"],"cwd":"/home/me/app","env":{"TERM":"xterm"},"tty":{"stdin":true,"stdout":true,"stderr":true},"size":{"cols":80,"rows":24},"pid":42,"version":"v1.2.3","tty_name":"/dev/pts/3","can_prompt":true}`,
		`{"argv":["env","set","BIN=a\ufffd\ufffdb"],"env":{}}`,
		`{"argv":["env","set","BIN=a` + "\xff\xfe" + `b"]}`,
		`{"argv":null,"env":null,"size":null}`,
		`{"argv":["exec","web-1","--","bash","-c","echo \"hi\""],"pid":-1}`,
		`{"ARGV":["racks"],"Argv":["apps"]}`,
		`{"argv":[1,2]}`,
		`{"size":{"cols":1e9}}`,
		`[]`,
		`{"argv":["\u0000","\ud800"]}`,
		`{"env":{"A":"1","A":"2"}}`,
		`{"argv":["env","set","BIN=a\ufffd\ufffdb"],"argv_b64":["ZW52","c2V0","QklOPWH//mI="]}`,
		`{"argv":[],"argv_b64":["!!"]}`,
		`{"argv_b64":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var inv Invocation
		if err := json.Unmarshal(data, &inv); err != nil {
			return
		}
		b, err := json.Marshal(&inv)
		if err != nil {
			t.Fatalf("a decoded invocation does not encode: %v", err)
		}
		var again Invocation
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("an encoded invocation does not decode: %v\n%s", err, b)
		}
		// "argv_b64": [] decodes to an empty list that omitempty does not
		// write back; the CLI never sends one (SetArgv fills one entry per
		// argument).
		if inv.ArgvB64 != nil && len(inv.ArgvB64) == 0 {
			inv.ArgvB64 = nil
		}
		if !reflect.DeepEqual(inv, again) {
			t.Fatalf("round trip changed the invocation:\n%#v\n%#v", inv, again)
		}
		// The agent reads argv_b64 when there is one: exactly one argument
		// per entry, or a bad_request.
		n := len(inv.ArgvB64)
		if err := inv.ArgvBytes(); err != nil {
			if AsError(err).Code != CodeBadRequest {
				t.Fatalf("ArgvBytes: %+v", err)
			}
		} else if inv.ArgvB64 != nil || (n > 0 && len(inv.Argv) != n) {
			t.Fatalf("ArgvBytes left %d arguments from %d", len(inv.Argv), n)
		}
		// The CLI forwards only some variables; the filter keeps exactly
		// those and never invents a value.
		environ := make([]string, 0, len(inv.Env))
		ambiguous := false // "A=B"="C" and "A"="B=C" are one environ entry
		for k, v := range inv.Env {
			environ = append(environ, k+"="+v)
			ambiguous = ambiguous || strings.Contains(k, "=")
		}
		for k, v := range ForwardedEnv(environ) {
			if !forwardedEnv[k] && !strings.HasPrefix(k, "RACK_GATEWAY_") {
				t.Fatalf("forwarded %q", k)
			}
			if !ambiguous && inv.Env[k] != v {
				t.Fatalf("forwarded %s=%q, was %q", k, v, inv.Env[k])
			}
		}
	})
}

// FuzzControl decodes arbitrary control messages as both ends do, and
// checks that MarshalControl gives back the same message, that the type
// decides which field is read, and that an exit's status is one the CLI
// can return.
func FuzzControl(f *testing.F) {
	for _, s := range []string{
		`{"type":"resize","size":{"cols":120,"rows":40}}`,
		`{"type":"interrupt"}`,
		`{"type":"stdin"}`,
		`{"type":"prompt","prompt":{"id":"p1","text":"MFA code: ","secret":true,"rack":"prod","command":"apps delete","reason":"step-up"}}`,
		`{"type":"answer","answer":{"id":"p1","value":"123456"}}`,
		`{"type":"answer","answer":{"id":"p1","error":"no terminal"}}`,
		`{"type":"prompt_done","answer":{"id":"p1"}}`,
		`{"type":"action","action":{"id":"a1","kind":"open_url","url":"https://gw.example.com/x"}}`,
		`{"type":"action","action":{"id":"a2","kind":"edit_file","content":"QUJD"}}`,
		`{"type":"action_result","action_result":{"id":"a2","content":"!!"}}`,
		`{"type":"exit","exit":{"status":0}}`,
		`{"type":"exit","exit":{"status":6,"error":{"code":"agent_unavailable","message":"m","hint":"h"}}}`,
		`{"type":"raw","raw":true}`,
		`{"type":"raw","raw":null}`,
		`{"type":"exit","exit":null,"prompt":{}}`,
		`{"type":"TYPE","Type":"exit"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Control
		if err := json.Unmarshal(data, &c); err != nil {
			return
		}
		b := MarshalControl(&c)
		if len(b) == 0 || !json.Valid(b) {
			t.Fatalf("MarshalControl gave %q", b)
		}
		var again Control
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("a marshalled control does not decode: %v\n%s", err, b)
		}
		// Content fields are []byte: base64 round-trips them exactly;
		// everything else is compared as decoded.
		if !reflect.DeepEqual(normControl(c), normControl(again)) {
			t.Fatalf("round trip changed the control message:\n%s\n%s", data, b)
		}
		if !bytes.Equal(MarshalControl(&again), b) {
			t.Fatalf("MarshalControl is not stable:\n%s\n%s", b, MarshalControl(&again))
		}
		if c.Exit != nil && c.Exit.Error != nil {
			e := c.Exit.Error
			if r := e.Render(); !strings.HasPrefix(r, "Error: "+e.Message+"\n") || (e.Hint != "" && !strings.HasSuffix(r, e.Hint+"\n")) {
				t.Fatalf("Render() = %q", r)
			}
			if st := ExitStatus(e.Code); (e.Code == "") != (st == ExitOK) {
				t.Fatalf("code %q exits with %d", e.Code, st)
			}
		}
	})
}

// normControl makes nil and empty byte slices compare equal: both encode
// to nothing ("omitempty").
func normControl(c Control) Control {
	if c.Action != nil {
		a := *c.Action
		if len(a.Content) == 0 {
			a.Content = nil
		}
		c.Action = &a
	}
	if c.ActionResult != nil {
		a := *c.ActionResult
		if len(a.Content) == 0 {
			a.Content = nil
		}
		c.ActionResult = &a
	}
	return c
}

// FuzzEvent decodes arbitrary /v1/events messages and /v1/status bodies as
// clients do: what decodes re-encodes to a fixed point.
func FuzzEvent(f *testing.F) {
	for _, s := range []string{
		`{"seq":1,"time":"2025-01-02T03:04:05Z","type":"login","rack":"prod","config_dir":"/c","email":"me@example.com","expires_at":"2025-04-02T03:04:05+02:00"}`,
		`{"seq":18446744073709551615,"type":"command_finished","command":"apps","pid":7,"exit":0}`,
		`{"version":"v1","capability":1,"pid":1,"started_at":"2025-01-02T03:04:05.999999999Z","socket":"/run/s","secret_store":"file","racks":[{"name":"prod","url":"https://x","current":true,"config_dir":"/c","logged_in":true,"window":{"active":true,"expires_at":"2025-01-02T03:09:05Z","remaining_s":300},"pending_prompts":[]}],"prompts":[{"id":"p","text":"code","secret":true,"created_at":"2025-01-02T03:04:05Z"}]}`,
		`{"time":"0000-01-01T00:00:00Z"}`,
		`{"time":"9999-12-31T23:59:59.999999999-23:59"}`,
		`{"racks":null,"prompts":[null]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fixedPoint(t, data, &Event{}, func() any { return &Event{} })
		fixedPoint(t, data, &Status{}, func() any { return &Status{} })
		fixedPoint(t, data, &ErrorBody{}, func() any { return &ErrorBody{} })
	})
}

// fixedPoint checks that v, decoded from data, encodes to bytes that decode
// and encode to the same bytes again.
func fixedPoint(t *testing.T, data []byte, v any, fresh func() any) {
	t.Helper()
	if json.Unmarshal(data, v) != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		// A time decoded from JSON always re-encodes; anything else is a
		// field the other end could not read back.
		t.Fatalf("%T decoded from %q does not encode: %v", v, data, err)
	}
	w := fresh()
	if err := json.Unmarshal(b, w); err != nil {
		t.Fatalf("%T encodes to %s, which does not decode: %v", v, b, err)
	}
	b2, _ := json.Marshal(w)
	if !bytes.Equal(b, b2) {
		t.Fatalf("%T is no fixed point:\n%s\n%s", v, b, b2)
	}
}

// FuzzArgvBytes sends any command line, bytes and all, the way the CLI
// does and reads it the way the agent does: to an agent with argv_b64 it
// arrives exactly; to one without, it arrives exactly or the CLI refuses
// it (CheckText), naming where and never showing the argument.
func FuzzArgvBytes(f *testing.F) {
	for _, s := range []string{
		"env\x00set\x00BIN=a\xff\xfeb",
		"apps",
		"exec\x00web\x00--\x00printf\x00\x80",
		"\xed\xa0\x80",      // an encoded surrogate: not UTF-8 for Go
		"\xef\xbf\xbd",      // a real U+FFFD: valid, and must stay one
		"a\x00\x00\xc3\x28", // empty arguments and a cut sequence
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var argv []string
		if s != "" {
			argv = strings.Split(s, "\x00")
		}
		for _, exact := range []bool{true, false} {
			var inv Invocation
			inv.SetArgv(argv, exact)
			b, err := json.Marshal(&inv)
			if err != nil {
				t.Fatal(err)
			}
			var got Invocation
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if err := got.ArgvBytes(); err != nil {
				t.Fatalf("the agent cannot read what the CLI sent: %v\n%s", err, b)
			}
			same := len(got.Argv) == len(argv)
			for i := 0; same && i < len(argv); i++ {
				same = got.Argv[i] == argv[i]
			}
			refused := CheckText(argv)
			switch {
			case exact && !same:
				t.Fatalf("argv_b64 changed %q into %q", argv, got.Argv)
			case !exact && !same && refused == nil:
				t.Fatalf("%q arrived as %q, and CheckText let it through", argv, got.Argv)
			}
			if refused != nil && (refused.Code != CodeUsage || !utf8.ValidString(refused.Message) || !strings.HasPrefix(refused.Message, "argument ")) {
				t.Fatalf("CheckText: %+v", refused)
			}
		}
	})
}
