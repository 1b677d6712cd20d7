package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzLedgerFile loads any mfa-ledger.json (next to a good key) and checks
// the ledger's promises: a file it cannot fully understand is a lost ledger
// and refuses everything for the fail-safe period; one it understands is
// never taken for lost; what it writes it reads back strictly; and an
// attempt it lets through can never be the one that locks the account or
// trips the rate limit.
func FuzzLedgerFile(f *testing.F) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	recent := now.Add(-time.Minute).Format(time.RFC3339Nano)
	for _, s := range []string{
		`{"version":1,"users":{}}`,
		`{"version":1,"users":{"u":[{"id":"a","time":"` + recent + `","factor":"code","outcome":"rejected"},{"id":"b","time":"` + recent + `","factor":"code","outcome":"pending"},{"id":"c","time":"` + recent + `","factor":"webauthn","outcome":"rejected"}]}}`,
		`{"version":1,"users":{"u":[{"id":"a","time":"` + recent + `","factor":"code","outcome":"accepted","hash":"x","step":58048070}]},"blocks":{"u":{"kind":"locked","until":"2025-03-04T05:10:00Z"}}}`,
		`{"version":1,"users":{"u":[]},"lost":{"at":"` + recent + `","file":"mfa-ledger.json"}}`,
		`{"version":1,"users":{"https://gw\u0000":[{"id":"a","time":"` + recent + `","factor":"code","outcome":"rejected"}],"https://gw\u0000me@x":[]}}`,
		`{"version":2,"users":{}}`,
		`{"version":1,"users":{"u":[{"id":"a","factor":"sms","outcome":"rejected"}]}}`,
		`{"version":1,"users":{},"extra":1}`,
		`{"version":1,"users":{"u":[{"id":"a","time":"9999-12-31T23:59:59Z","factor":"code","outcome":"pending"}]}}`,
		`{"version":1} trailing`,
		`null`,
		``,
	} {
		f.Add([]byte(s), "u")
	}
	dir := fastDir(f)
	key := bytes.Repeat([]byte{7}, keySize)
	f.Fuzz(func(t *testing.T, data []byte, user string) {
		if user == "" {
			user = "u"
		}
		for _, n := range []string{jsonName, keyName} {
			_ = os.Remove(filepath.Join(dir, n))
		}
		if err := os.WriteFile(filepath.Join(dir, jsonName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, keyName), key, 0o600); err != nil {
			t.Fatal(err)
		}
		l := &Ledger{Dir: dir, Now: func() time.Time { return now }, Grace: DefaultGrace}
		var parsed ledgerFile
		understood := decode(data, &parsed) == nil

		err := l.Check(user, Code, "")
		var r *Refusal
		if errors.As(err, &r) {
			if r.Message == "" || (r.Reason != "replay" && r.RetryAt.Before(now)) {
				t.Fatalf("refusal %+v", r)
			}
		} else if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if !understood {
			if r == nil || r.Reason != "ledger_lost" {
				t.Fatalf("an unreadable ledger %q let a code through: %v", data, err)
			}
		} else if r != nil && r.Reason == "ledger_lost" && (parsed.Lost == nil || !now.Before(parsed.Lost.At.Add(window))) {
			t.Fatalf("a readable ledger %q was taken for lost", data)
		}
		if _, err := l.Budget(user); err != nil {
			t.Fatalf("Budget: %v", err)
		}

		tk, rerr := l.Reserve(user, Code, "123456")
		if rerr != nil && !errors.As(rerr, &r) {
			t.Fatalf("Reserve: %v", rerr)
		}
		saved, err := os.ReadFile(filepath.Join(dir, jsonName))
		if err != nil {
			t.Fatal(err)
		}
		var back ledgerFile
		if (rerr == nil || !understood) && decode(saved, &back) != nil {
			t.Fatalf("the ledger wrote what it cannot read back:\n%s", saved)
		}
		if rerr != nil {
			return
		}
		if err := tk.Settle(Rejected); err != nil {
			t.Fatalf("Settle: %v", err)
		}
		// The attempt just let through, if refused, must not be the
		// server's fifth failure or its sixth code in the window.
		if strings.Contains(user, "\x00") {
			return // attempts of other keys count too (see views)
		}
		saved, _ = os.ReadFile(filepath.Join(dir, jsonName))
		back = ledgerFile{}
		if err := json.Unmarshal(saved, &back); err != nil {
			t.Fatal(err)
		}
		var failed, codes int
		for _, a := range back.Users[user] {
			if a.Time.After(now.Add(-window)) {
				codes += btoi(a.Factor == Code)
				failed += btoi(a.Outcome != Accepted)
			}
		}
		if failed > lockoutAt || codes > rateLimitAt {
			t.Fatalf("let an attempt through with %d failures and %d codes in the window:\n%s", failed, codes, saved)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// fastDir is a private directory on a tmpfs when there is one: every
// Reserve and Settle fsyncs, which on a disk would leave the fuzzer a few
// dozen inputs a second.
func fastDir(f *testing.F) string {
	if d, err := os.MkdirTemp("/dev/shm", "ledger-fuzz-"); err == nil {
		f.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	return f.TempDir()
}
