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
