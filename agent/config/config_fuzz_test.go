package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// FuzzConfig loads any config.json and checks what every reader relies on:
// Load never panics and leaves no nil rack; what it loads saves, and loads
// back to the same file with no token, no repair left to do and nothing
// changed (load, save, load is a fixed point); no token is ever written.
func FuzzConfig(f *testing.F) {
	for _, s := range []string{
		`{"gateways":{"a":null}}`,
		`{"current":"prod","gateways":{"prod":{"url":"https://gw.example.com","token":"legacy","email":"me@example.com","expires_at":"2025-04-02T03:04:05+02:00","session_id":7,"sound_volume":0.5,"future":{"x":[1,2]}}},"machine_id":"0b5e8b5e-2f3c-4f4e-9d55-0a0b0c0d0e0f","mfa_preference":"totp","upstream_only":true}`,
		`{"gateways":{"a":{"url":"x","TOKEN":"t1","Token":"t2"}}}`,
		`{"Gateways":{"a":{"URL":"x","token":"t"}},"gateways":{"b":{}}}`,
		`{"gateways":{"a":{"url":"x","URL":"y","Url":"z"}},"CURRENT":"a","current":"b"}`,
		`{"gateways":{"a":{"token":""},"b":{"token":5}}}`,
		`{"machine_id":"not-a-uuid","gateways":null}`,
		`{"all_racks_exclude":["a",""],"webauthn_pin_cache_seconds":300}`,
		`{"gateways":{"a":{"expires_at":null,"sound_volume":null}}}`,
		`{"x":"` + "\xff" + `","gateways":{"\xfe":{"url":"\u0000"}}}`,
		`[]`,
		`{"gateways":[]}`,
		`{"session_id":1e3}`,
		``,
	} {
		f.Add([]byte(s))
	}
	base := fastDir(f)
	in, out := filepath.Join(base, "in"), filepath.Join(base, "out")
	for _, d := range []string{in, out} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(in, FileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(filepath.Join(out, FileName))
		cfg, tokens, _, err := Load(in)
		if err != nil {
			return
		}
		for name, gw := range cfg.Gateways {
			if gw == nil {
				t.Fatalf("Load left a nil rack %q", name)
			}
		}
		for name := range tokens {
			if cfg.Gateways[name] == nil {
				t.Fatalf("a token for %q, which is no rack", name)
			}
		}
		if _, err := uuid.Parse(cfg.MachineID); err != nil || cfg.MFAPreference == "" {
			t.Fatalf("machine_id %q, mfa_preference %q", cfg.MachineID, cfg.MFAPreference)
		}
		if err := cfg.Save(out); err != nil {
			t.Fatalf("a loaded config does not save: %v", err)
		}
		saved, err := os.ReadFile(filepath.Join(out, FileName))
		if err != nil {
			t.Fatal(err)
		}
		checkNoToken(t, saved)
		again, tokens2, changed, err := Load(out)
		if err != nil {
			t.Fatalf("a saved config does not load: %v\n%s", err, saved)
		}
		if len(tokens2) > 0 || changed || len(again.Notices()) > 0 {
			t.Fatalf("a saved config still needed repairs (tokens %v, changed %v, %q):\n%s", tokens2, changed, again.Notices(), saved)
		}
		m1, err1 := cfg.Marshal()
		m2, err2 := again.Marshal()
		if err1 != nil || err2 != nil || !bytes.Equal(m1, m2) {
			t.Fatalf("load, save, load changed the config (%v, %v):\n%s\n%s", err1, err2, m1, m2)
		}
		if !bytes.Equal(append(m1, '\n'), saved) {
			t.Fatalf("Save wrote something else than Marshal:\n%s\n%s", saved, m1)
		}
	})
}

// checkNoToken fails if any rack entry of the file, under a key Go's decoder
// (or the upstream CLI's) would read as "gateways", has a "token" in any case.
func checkNoToken(t *testing.T, file []byte) {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(file, &top); err != nil {
		t.Fatalf("saved config is not a JSON object: %v\n%s", err, file)
	}
	for k, v := range top {
		if !strings.EqualFold(k, "gateways") {
			continue
		}
		var gws map[string]map[string]json.RawMessage
		if json.Unmarshal(v, &gws) != nil {
			continue
		}
		for name, fields := range gws {
			for fk := range fields {
				if strings.EqualFold(fk, "token") {
					t.Fatalf("rack %q was saved with a %q key:\n%s", name, fk, file)
				}
			}
		}
	}
}

// fastDir is a private directory on a tmpfs when there is one: Save
// writes atomically with an fsync, which on a disk slows the fuzzer down
// a hundredfold.
func fastDir(f *testing.F) string {
	if d, err := os.MkdirTemp("/dev/shm", "config-fuzz-"); err == nil {
		f.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	return f.TempDir()
}
