package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stepup_notice_seconds: absent is the 60 s default, 0 turns the notice
// off, and a value round-trips through Save.
func TestStepUpNotice(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		json string
		want time.Duration
	}{
		{`{}`, 60 * time.Second},
		{`{"stepup_notice_seconds": 0}`, 0},
		{`{"stepup_notice_seconds": -5}`, 0},
		{`{"stepup_notice_seconds": 120}`, 120 * time.Second},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte(c.json), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, _, _, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.StepUpNotice(); got != c.want {
			t.Errorf("%s: StepUpNotice() = %s, want %s", c.json, got, c.want)
		}
		if err := cfg.Save(dir); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(filepath.Join(dir, FileName))
		if saved := strings.Contains(string(data), "stepup_notice_seconds"); saved != (c.json != `{}`) {
			t.Errorf("%s: saved file %s the key:\n%s", c.json, map[bool]string{true: "has", false: "lacks"}[saved], data)
		}
	}
}
