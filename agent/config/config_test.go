package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const upstream = `{
  "current": "production",
  "gateways": {
    "production": {
      "url": "https://gateway.example.com",
      "token": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
      "email": "dev@example.com",
      "expires_at": "2026-07-23T10:00:00Z",
      "session_id": 1024,
      "channel": "cli",
      "device_id": "0b0c33c1-1b9c-4c57-8a3c-0c54b7a1c0de",
      "mfa_verified": true,
      "mfa_preference": "totp",
      "future_field": {"x": 1}
    }
  },
  "machine_id": "0b0c33c1-1b9c-4c57-8a3c-0c54b7a1c0de",
  "mfa_preference": "default",
  "all_racks_exclude": ["dev"],
  "another_future": true
}`

func TestLoadMovesTokensOutAndKeepsUnknownFields(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(upstream), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, tokens, changed, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !changed || tokens["production"] != "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ" {
		t.Fatalf("token not extracted: changed=%v tokens=%v", changed, tokens)
	}
	gw := cfg.Gateways["production"]
	if gw.Email != "dev@example.com" || gw.SessionID != 1024 || gw.MFAPreference != "totp" {
		t.Fatalf("fields lost: %+v", gw)
	}
	if err := cfg.Save(dir); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, FileName))
	s := string(data)
	if strings.Contains(s, "abcdefghijklmnop") || strings.Contains(s, `"token"`) {
		t.Fatalf("token written back:\n%s", s)
	}
	for _, want := range []string{"future_field", "another_future", "all_racks_exclude", `"current": "production"`} {
		if !strings.Contains(s, want) {
			t.Errorf("saved config lost %q:\n%s", want, s)
		}
	}
	st, _ := os.Stat(filepath.Join(dir, FileName))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	if _, tokens, _, _ := Load(dir); len(tokens) != 0 {
		t.Errorf("tokens after save: %v", tokens)
	}
}

func TestLoadAssignsMachineID(t *testing.T) {
	dir := t.TempDir()
	cfg, _, changed, err := Load(dir)
	if err != nil || !changed || len(cfg.MachineID) != 36 || cfg.MFAPreference != "default" {
		t.Fatalf("cfg=%+v changed=%v err=%v", cfg, changed, err)
	}
}

func TestLoadRejectsBadJSON(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), []byte("{nope"), 0o600)
	if _, _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("err = %v", err)
	}
}

// A null rack entry used to reach every reader as a nil *Gateway: Save
// panicked in marshal and the agent died at start.
func TestLoadDropsNullEntries(t *testing.T) {
	dir := t.TempDir()
	body := `{"current":"b","gateways":{"a":null,"b":{"url":"https://gw.example.com"}},"machine_id":"0b0c33c1-1b9c-4c57-8a3c-0c54b7a1c0de","mfa_preference":"default"}`
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, changed, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Gateways["a"]; ok || cfg.Gateways["b"] == nil || !changed {
		t.Fatalf("gateways=%v changed=%v", cfg.Gateways, changed)
	}
	if n := cfg.Notices(); len(n) != 1 || !strings.Contains(n[0], `"a"`) || !strings.Contains(n[0], "rack-gateway login a") {
		t.Errorf("notices = %q", n)
	}
	if err := cfg.Save(dir); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, FileName))
	if strings.Contains(string(data), `"a"`) {
		t.Errorf("the null entry was written back:\n%s", data)
	}
	// A nil a caller puts in is skipped by Names and never written.
	cfg.Gateways["c"] = nil
	if names := cfg.Names(); len(names) != 1 || names[0] != "b" {
		t.Errorf("names = %v", names)
	}
	if _, err := cfg.Marshal(); err != nil {
		t.Fatal(err)
	}
}

// Go's decoder matches "TOKEN" to a token field, so the upstream CLI reads
// it as the token: it must move to the secret store like "token", and no
// case variant of a known key may be written back beside the real one.
func TestLoadTreatsKeyCaseVariantsAlike(t *testing.T) {
	dir := t.TempDir()
	body := `{"Gateways":{"p":{"URL":"https://gw.example.com","TOKEN":"rgw_upper","Email":"dev@example.com","Future":1}},"machine_id":"0b0c33c1-1b9c-4c57-8a3c-0c54b7a1c0de","mfa_preference":"default"}`
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, tokens, changed, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tokens["p"] != "rgw_upper" || !changed {
		t.Fatalf("tokens=%v changed=%v", tokens, changed)
	}
	if g := cfg.Gateways["p"]; g == nil || g.URL != "https://gw.example.com" || g.Email != "dev@example.com" {
		t.Fatalf("gateway = %+v", g)
	}
	if err := cfg.Save(dir); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, FileName))
	s := string(data)
	for _, gone := range []string{"rgw_upper", "TOKEN", `"URL"`, `"Email"`, `"Gateways"`} {
		if strings.Contains(s, gone) {
			t.Errorf("saved config still has %s:\n%s", gone, s)
		}
	}
	if !strings.Contains(s, `"Future": 1`) {
		t.Errorf("an unknown field was lost:\n%s", s)
	}
	if _, tokens, _, _ := Load(dir); len(tokens) != 0 {
		t.Errorf("tokens after save: %v", tokens)
	}
}
