package ledger

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// base is aligned to a TOTP step so tests can reason about steps.
var base = time.Date(2030, 1, 2, 12, 0, 0, 0, time.UTC)

const user = "https://gw.example.com\x00alice@example.com"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func newLedger(t *testing.T) (*Ledger, *clock) {
	t.Helper()
	c := &clock{t: base}
	l := Open(filepath.Join(t.TempDir(), "state"))
	l.Now = c.Now
	l.Grace = 0 // the rules' arithmetic, exactly; TestGrace covers Grace
	return l, c
}

// With a grace, an attempt stays counted that much past five minutes by
// our clock: the server stamped it later.
func TestGrace(t *testing.T) {
	t.Parallel()
	l, c := newLedger(t)
	l.Grace = DefaultGrace
	for i := 0; i < 4; i++ {
		reserve(t, l, user, Code, code(i), Rejected)
	}
	c.Set(base.Add(5 * time.Minute))
	r := refusal(t, l.Check(user, Code, ""), "lockout")
	if !r.RetryAt.Equal(base.Add(5*time.Minute + DefaultGrace)) {
		t.Fatalf("RetryAt %v", r.RetryAt)
	}
	c.Set(base.Add(5*time.Minute + DefaultGrace))
	if err := l.Check(user, Code, ""); err != nil {
		t.Fatal(err)
	}
}

// reopen is a second process's view of the same directory.
func reopen(l *Ledger, c *clock) *Ledger { return &Ledger{Dir: l.Dir, Now: c.Now} }

func refusal(t *testing.T, err error, reason string) *Refusal {
	t.Helper()
	var r *Refusal
	if !errors.As(err, &r) {
		t.Fatalf("want a %s refusal, got %v", reason, err)
	}
	if r.Reason != reason {
		t.Fatalf("want reason %s, got %s (%s)", reason, r.Reason, r.Message)
	}
	if !strings.HasPrefix(r.Message, "Nothing was sent: ") || r.Error() != r.Message {
		t.Fatalf("message %q does not say nothing was sent", r.Message)
	}
	return r
}

func reserve(t *testing.T, l *Ledger, u string, f Factor, code string, o Outcome) *Ticket {
	t.Helper()
	tk, err := l.Reserve(u, f, code)
	if err != nil {
		t.Fatalf("Reserve(%q): %v", code, err)
	}
	if o != Pending {
		if err := tk.Settle(o); err != nil {
			t.Fatal(err)
		}
	}
	return tk
}

func code(i int) string { return fmt.Sprintf("%012x", 0xabc000+i) } // a backup code: no TOTP step

func TestFreshLedger(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t)
	if err := l.Check(user, Code, "123456"); err != nil {
		t.Fatal(err)
	}
	if b, err := l.Budget(user); err != nil || b != (Budget{}) {
		t.Fatalf("Budget = %+v, %v", b, err)
	}
	for _, name := range []string{jsonName, keyName} {
		if _, err := os.Stat(filepath.Join(l.Dir, name)); !os.IsNotExist(err) {
			t.Fatalf("Check created %s: %v", name, err)
		}
	}
	reserve(t, l, user, Code, "123456", Accepted)
	if err := reopen(l, &clock{t: base}).Check(user, Code, code(1)); err != nil {
		t.Fatalf("after the first write the ledger must not look lost: %v", err)
	}
}

func TestLockoutAndRetryAt(t *testing.T) {
	t.Parallel()
	l, c := newLedger(t)
	for i := range 4 {
		c.Set(base.Add(time.Duration(i) * 10 * time.Second))
		reserve(t, l, user, Code, code(i), Rejected)
	}
	c.Set(base.Add(110 * time.Second))
	for _, f := range []Factor{Code, WebAuthn} {
		r := refusal(t, l.Check(user, f, code(9)), "lockout")
		if !r.RetryAt.Equal(base.Add(5 * time.Minute)) {
			t.Fatalf("RetryAt = %v", r.RetryAt)
		}
		for _, want := range []string{"4 MFA attempts", "lock your account", "5 failed attempts in 5 minutes", "Try again in 3m10s."} {
			if !strings.Contains(r.Message, want) {
				t.Fatalf("message %q lacks %q", r.Message, want)
			}
		}
	}
	if _, err := l.Reserve(user, Code, code(9)); err == nil {
		t.Fatal("Reserve passed a 5th failure")
	}
	// Once the oldest has left, one more is allowed, and RetryAt moves on
	// to the next oldest.
	c.Set(base.Add(5 * time.Minute))
	reserve(t, l, user, Code, code(10), Rejected)
	r := refusal(t, l.Check(user, Code, code(11)), "lockout")
	if !r.RetryAt.Equal(base.Add(10*time.Second + 5*time.Minute)) {
		t.Fatalf("RetryAt = %v", r.RetryAt)
	}
	c.Set(r.RetryAt)
	if err := l.Check(user, Code, code(11)); err != nil {
		t.Fatalf("at RetryAt: %v", err)
	}
}

func TestPendingCountsAsRejected(t *testing.T) {
	t.Parallel()
	l, c := newLedger(t)
	for i := range 3 {
		reserve(t, l, user, Code, code(i), Pending)
	}
	reserve(t, l, user, WebAuthn, "", Pending)
	refusal(t, l.Check(user, Code, code(5)), "lockout")
	if b, _ := l.Budget(user); b.Rejected != 4 || b.Codes != 3 || b.WebAuthn != 1 || !b.Next.Equal(base.Add(5*time.Minute)) {
		t.Fatalf("Budget = %+v", b)
	}
	c.Set(base.Add(5 * time.Minute))
	if err := l.Check(user, Code, code(5)); err != nil {
		t.Fatal(err)
	}
}

func TestSettle(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t)
	tk := reserve(t, l, user, Code, code(1), Pending)
	if err := tk.Settle(Pending); err == nil {
		t.Fatal("Settle(Pending) accepted")
	}
	if err := tk.Settle(Accepted); err != nil {
		t.Fatal(err)
	}
	if err := tk.Settle(Rejected); err != nil {
		t.Fatalf("second Settle: %v", err)
	}
	// Another process's ticket for the same attempt cannot overturn it.
	other := &Ticket{l: reopen(l, &clock{t: base}), user: user, id: tk.id}
	if err := other.Settle(Rejected); err != nil {
		t.Fatal(err)
	}
	if b, _ := l.Budget(user); b.Rejected != 0 || b.Codes != 1 {
		t.Fatalf("first Settle did not win: %+v", b)
	}
	var nilT *Ticket
	if nilT.Settle(Accepted) == nil {
		t.Fatal("nil ticket settled")
	}
}

func TestCodeRateLimitCountsSuccesses(t *testing.T) {
	t.Parallel()
	l, c := newLedger(t)
	for i := range 5 {
		c.Set(base.Add(time.Duration(i) * time.Minute))
		reserve(t, l, user, Code, code(i), Accepted)
	}
	c.Set(base.Add(4*time.Minute + 30*time.Second))
	r := refusal(t, l.Check(user, Code, code(9)), "rate_limit")
	if !r.RetryAt.Equal(base.Add(5*time.Minute)) || !strings.Contains(r.Message, "Try again in 30s.") {
		t.Fatalf("%v: %s", r.RetryAt, r.Message)
	}
	if err := l.Check(user, WebAuthn, ""); err != nil {
		t.Fatalf("codes must not rate-limit WebAuthn: %v", err)
	}
	c.Set(base.Add(5 * time.Minute))
	reserve(t, l, user, Code, code(9), Accepted)
}

func TestWebAuthnRateLimit(t *testing.T) {
	t.Parallel()
	l, c := newLedger(t)
	for range 5 {
		reserve(t, l, user, WebAuthn, "", Accepted)
	}
	r := refusal(t, l.Check(user, WebAuthn, ""), "rate_limit")
	if !r.RetryAt.Equal(base.Add(5*time.Minute)) || !strings.Contains(r.Message, "security-key") {
		t.Fatalf("%v: %s", r.RetryAt, r.Message)
	}
	if err := l.Check(user, Code, code(1)); err != nil {
		t.Fatalf("WebAuthn successes must not refuse a code: %v", err)
	}
	if b, _ := l.Budget(user); b.Next != (time.Time{}) || !b.NextWebAuthn.Equal(r.RetryAt) {
		t.Fatalf("Budget = %+v", b)
	}
	// WebAuthn failures feed the lockout rule for codes too.
	c.Set(base.Add(5 * time.Minute))
	for range 4 {
		reserve(t, l, user, WebAuthn, "", Rejected)
	}
	refusal(t, l.Check(user, Code, code(1)), "lockout")
}

func TestReplay(t *testing.T) {
	t.Parallel()
	l, c := newLedger(t)
	yubi := "ccccccbcgujhingjrdejhgfnuetrgigvejhhgbkugded"
	for _, cd := range []string{"123456", code(1), yubi} {
		reserve(t, l, user, Code, cd, Rejected)
	}
	c.Set(base.Add(10 * time.Minute))
	for _, cd := range []string{"123456", code(1), yubi} {
		r := refusal(t, l.Check(user, Code, cd), "replay")
		if !r.RetryAt.IsZero() || r.Message != "Nothing was sent: that code was already used; wait for the next code from your authenticator." {
			t.Fatalf("%+v", r)
		}
	}
	if err := l.Check(user+"x", Code, "123456"); err != nil {
		t.Fatalf("replay is per user: %v", err)
	}
	c.Set(base.Add(24 * time.Hour))
	if err := l.Check(user, Code, "123456"); err != nil {
		t.Fatalf("hashes are kept 24 h only: %v", err)
	}
}

func TestSameStep(t *testing.T) {
	t.Parallel()
	l, c := newLedger(t)
	l.SameStep = func(u string) bool { return u == user }
	c.Set(base.Add(3 * time.Second))
	reserve(t, l, user, Code, "111111", Rejected) // a rejected code does not consume the step
	reserve(t, l, user, Code, "222222", Accepted)
	c.Set(base.Add(18 * time.Second))
	r := refusal(t, l.Check(user, Code, "333333"), "same_step")
	if !r.RetryAt.Equal(base.Add(30*time.Second)) || !strings.HasSuffix(r.Message, "wait for the next code (in 12s).") {
		t.Fatalf("%v: %s", r.RetryAt, r.Message)
	}
	if err := l.Check(user, Code, code(1)); err != nil {
		t.Fatalf("a backup code has no step: %v", err)
	}
	c.Set(base.Add(30 * time.Second))
	reserve(t, l, user, Code, "333333", Accepted)
}

// With one TOTP secret a different code in the step of an accepted one is
// the adjacent step's code, which the server accepts: it must go through.
func TestSameStepOnlyForSeveralSecrets(t *testing.T) {
	t.Parallel()
	l, c := newLedger(t)
	c.Set(base.Add(3 * time.Second))
	reserve(t, l, user, Code, "222222", Accepted)
	if err := l.Check(user, Code, "333333"); err != nil {
		t.Fatalf("a second code in the step was refused for a one-secret user: %v", err)
	}
	refusal(t, l.Check(user, Code, "222222"), "replay")
}

func TestVoidForgetsAnUncheckedCode(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t)
	tk, err := l.Reserve(user, Code, "444444")
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.Void(); err != nil {
		t.Fatal(err)
	}
	if err := l.Check(user, Code, "444444"); err != nil {
		t.Fatalf("a voided code is still counted: %v", err)
	}
	if b, err := l.Budget(user); err != nil || b.Codes != 0 || b.Rejected != 0 {
		t.Fatalf("budget after void: %+v %v", b, err)
	}
}

func TestCheckWithoutACode(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t)
	if err := l.Check(user, Code, ""); err != nil {
		t.Fatalf("Check with no code on a fresh ledger: %v", err)
	}
	if _, err := l.Reserve(user, Code, ""); err == nil {
		t.Fatal("Reserve took a code attempt without a code")
	}
	for i := 0; i < 4; i++ {
		reserve(t, l, user, Code, code(i), Rejected)
	}
	refusal(t, l.Check(user, Code, ""), "lockout")
}

func TestServerRefused(t *testing.T) {
	t.Parallel()
	l, c := newLedger(t)
	if err := l.ServerRefused(user, "bogus"); err == nil {
		t.Fatal("unknown kind accepted")
	}
	if err := l.ServerRefused(user, KindRateLimited); err != nil {
		t.Fatal(err)
	}
	c.Set(base.Add(time.Minute))
	r := refusal(t, l.Check(user, WebAuthn, ""), "server_block")
	if !r.RetryAt.Equal(base.Add(5*time.Minute)) || !strings.Contains(r.Message, "too many attempts") || !strings.Contains(r.Message, "4m") {
		t.Fatalf("%v: %s", r.RetryAt, r.Message)
	}
	if b, _ := l.Budget(user); b.Rejected != 1 || b.Codes != 1 {
		t.Fatalf("the server's refusal must count as a failed code: %+v", b)
	}
	if err := l.ServerRefused(user, KindLocked); err != nil {
		t.Fatal(err)
	}
	c.Set(base.Add(2 * time.Minute))
	r = refusal(t, l.Check(user, Code, code(1)), "server_block")
	if !r.RetryAt.Equal(base.Add(6*time.Minute)) || !strings.Contains(r.Message, "locked") || !strings.Contains(r.Message, "administrator must unlock") {
		t.Fatalf("%v: %s", r.RetryAt, r.Message)
	}
	// A later rate limit must not hide the lock.
	if err := l.ServerRefused(user, KindRateLimited); err != nil {
		t.Fatal(err)
	}
	if r := refusal(t, l.Check(user, Code, code(1)), "server_block"); !strings.Contains(r.Message, "administrator") {
		t.Fatal(r.Message)
	}
	c.Set(base.Add(7 * time.Minute))
	if err := l.Check(user, Code, code(1)); err != nil {
		t.Fatal(err)
	}
}

func TestRekeyAndUnknownEmail(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t)
	const url = "https://gw.example.com"
	anon, bob, other := url+"\x00", url+"\x00bob@example.com", "https://other.example.com\x00alice@example.com"
	pending := reserve(t, l, anon, Code, code(1), Pending)
	reserve(t, l, anon, Code, code(2), Rejected)
	reserve(t, l, user, Code, code(3), Rejected)
	reserve(t, l, bob, Code, code(4), Rejected)
	for u, want := range map[string]int{anon: 3, user: 3, bob: 3, other: 0} {
		if b, _ := l.Budget(u); b.Rejected != want {
			t.Fatalf("Budget(%q).Rejected = %d, want %d", u, b.Rejected, want)
		}
	}
	refusal(t, l.Check(bob, Code, code(1)), "replay")
	reserve(t, l, user, Code, code(5), Rejected)
	// alice's 4th failure blocks alice and the unknown-email login (it may
	// be alice), but not bob.
	refusal(t, l.Check(user, Code, code(6)), "lockout")
	refusal(t, l.Check(anon, Code, code(6)), "lockout")
	if err := l.Check(bob, Code, code(6)); err != nil {
		t.Fatal(err)
	}
	if err := l.Rekey(anon, bob); err != nil {
		t.Fatal(err)
	}
	if err := pending.Settle(Accepted); err != nil {
		t.Fatal(err)
	}
	// The unknown-email key still answers for the worst account it may be.
	for u, want := range map[string]int{anon: 2, user: 2, bob: 2} {
		if b, _ := l.Budget(u); b.Rejected != want {
			t.Fatalf("after Rekey Budget(%q).Rejected = %d, want %d", u, b.Rejected, want)
		}
	}
	if b, _ := l.Budget(bob); b.Codes != 3 {
		t.Fatalf("Rekey lost attempts: %+v", b)
	}
	if err := l.Rekey("", bob); err == nil {
		t.Fatal("empty key accepted")
	}
}

func TestLedgerLost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file string
		damage     func(dir string) error
	}{
		{"json deleted", jsonName, func(d string) error { return os.Remove(filepath.Join(d, jsonName)) }},
		{"json corrupt", jsonName, func(d string) error {
			return os.WriteFile(filepath.Join(d, jsonName), []byte(`{"version":1,"users":`), 0o600)
		}},
		{"json future version", jsonName, func(d string) error { return os.WriteFile(filepath.Join(d, jsonName), []byte(`{"version":2}`), 0o600) }},
		{"key deleted", keyName, func(d string) error { return os.Remove(filepath.Join(d, keyName)) }},
		{"key truncated", keyName, func(d string) error { return os.WriteFile(filepath.Join(d, keyName), []byte("short"), 0o600) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, c := newLedger(t)
			reserve(t, l, user, Code, "123456", Rejected)
			if err := tc.damage(l.Dir); err != nil {
				t.Fatal(err)
			}
			c.Set(base.Add(time.Minute))
			r := refusal(t, l.Check(user, WebAuthn, ""), "ledger_lost")
			if !r.RetryAt.Equal(base.Add(6*time.Minute)) || !strings.Contains(r.Message, filepath.Join(l.Dir, tc.file)) ||
				!strings.Contains(r.Message, "missing or unreadable") || !strings.Contains(r.Message, "Try again in 5m.") {
				t.Fatalf("%v: %s", r.RetryAt, r.Message)
			}
			// The moment of loss survives a restart and is not moved later.
			c.Set(base.Add(4 * time.Minute))
			r = refusal(t, reopen(l, c).Check(user, Code, code(1)), "ledger_lost")
			if !r.RetryAt.Equal(base.Add(6 * time.Minute)) {
				t.Fatalf("RetryAt moved to %v", r.RetryAt)
			}
			if _, err := l.Reserve(user, Code, code(1)); err == nil {
				t.Fatal("Reserve passed on a lost ledger")
			}
			c.Set(base.Add(6 * time.Minute))
			reserve(t, l, user, Code, code(1), Accepted)
			if tc.file == jsonName {
				if err := l.Check(user, Code, "123456"); err != nil {
					t.Fatalf("a fresh ledger remembers nothing: %v", err)
				}
			}
		})
	}
}

func TestWorstRefusalWins(t *testing.T) {
	t.Parallel()
	l, c := newLedger(t)
	for i := range 4 {
		c.Set(base.Add(time.Duration(i) * time.Minute))
		reserve(t, l, user, Code, code(i), Rejected)
	}
	// Lockout clears at base+5m, but the replay is never fine: the lockout
	// is reported first since "wait for the next code" would be wrong.
	refusal(t, l.Check(user, Code, code(0)), "lockout")
	c.Set(base.Add(5 * time.Minute))
	refusal(t, l.Check(user, Code, code(0)), "replay")
	if err := l.ServerRefused(user, KindRateLimited); err != nil {
		t.Fatal(err)
	}
	r := refusal(t, l.Check(user, Code, code(8)), "server_block")
	if !r.RetryAt.Equal(base.Add(10 * time.Minute)) {
		t.Fatalf("RetryAt = %v", r.RetryAt)
	}
}

func TestPruneAndCap(t *testing.T) {
	t.Parallel()
	l, c := newLedger(t)
	reserve(t, l, user, Code, "123456", Accepted)
	// Far more attempts than the server would allow, written in one go: the
	// cap keeps the newest.
	st, err := load(l.Dir, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxPerUser + 10 {
		st.f.Users[user] = append(st.f.Users[user], attempt{ID: strconv.Itoa(i), Time: base.Add(time.Hour + time.Duration(i)*time.Minute), Factor: WebAuthn, Outcome: Accepted})
	}
	last := base.Add(time.Hour + (maxPerUser+9)*time.Minute)
	c.Set(last)
	if err := st.save(last); err != nil {
		t.Fatal(err)
	}
	reserve(t, l, "someone-else", WebAuthn, "", Accepted)
	st, _ = load(l.Dir, c.Now())
	as := st.f.Users[user]
	if len(as) != maxPerUser || as[0].Factor != WebAuthn || !as[len(as)-1].Time.Equal(last) {
		t.Fatalf("kept %d attempts, first %+v", len(as), as[0])
	}
	c.Set(last.Add(24 * time.Hour))
	reserve(t, l, "someone-else", WebAuthn, "", Accepted)
	st, _ = load(l.Dir, c.Now())
	if _, ok := st.f.Users[user]; ok {
		t.Fatal("attempts older than 24 h survived a write")
	}
}

func TestBadArguments(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t)
	for _, tc := range []struct {
		u    string
		f    Factor
		code string
	}{{"", Code, "123456"}, {user, "sms", "123456"}} {
		if err := l.Check(tc.u, tc.f, tc.code); err == nil || errors.As(err, new(*Refusal)) {
			t.Fatalf("Check(%q, %q, %q) = %v", tc.u, tc.f, tc.code, err)
		}
	}
	if err := (&Ledger{}).Check(user, WebAuthn, ""); err == nil {
		t.Fatal("a Ledger without Dir worked")
	}
}

func TestRoundUp(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "1s", 400 * time.Millisecond: "1s", 12 * time.Second: "12s", 3*time.Minute + 9200*time.Millisecond: "3m10s", 5 * time.Minute: "5m",
	} {
		if got := roundUp(d); got != want {
			t.Errorf("roundUp(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestFilesPrivateAndNoPlaintextCodes(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t)
	codes := []string{"123456", "a1b2c3d4e5f6", "ccccccbcgujhingjrdejhgfnuetrgigvejhhgbkugded"}
	for _, cd := range codes {
		reserve(t, l, user, Code, cd, Rejected)
	}
	for _, name := range []string{jsonName, keyName, lockName} {
		p := filepath.Join(l.Dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o", name, fi.Mode().Perm())
		}
		data, _ := os.ReadFile(p)
		for _, cd := range codes {
			if bytes.Contains(bytes.ToLower(data), []byte(cd)) {
				t.Errorf("%s contains the code %s", name, cd)
			}
		}
	}
	if fi, err := os.Stat(l.Dir); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %04o", fi.Mode().Perm())
	}
}

func TestReserveRaceGoroutines(t *testing.T) {
	t.Parallel()
	l, c := newLedger(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, locked := 0, 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ll := l
			if i%2 == 1 {
				ll = reopen(l, c) // separate values share the directory's mutex
			}
			_, err := ll.Reserve(user, Code, code(i))
			mu.Lock()
			defer mu.Unlock()
			var r *Refusal
			switch {
			case err == nil:
				ok++
			case errors.As(err, &r) && r.Reason == "lockout":
				locked++
			default:
				t.Errorf("Reserve: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != lockoutAt || locked != 16-lockoutAt {
		t.Fatalf("%d reserved, %d refused; want %d and %d", ok, locked, lockoutAt, 16-lockoutAt)
	}
}

const helperEnv = "RACK_GATEWAY_LEDGER_HELPER"

// TestHelperProcess is one --no-agent process of TestReserveRaceProcesses:
// it reserves one code attempt and never settles it.
func TestHelperProcess(t *testing.T) {
	t.Parallel()
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("helper process for TestReserveRaceProcesses")
	}
	dir, rest, _ := strings.Cut(spec, "|")
	cd, nanos, _ := strings.Cut(rest, "|")
	n, _ := strconv.ParseInt(nanos, 10, 64)
	l := &Ledger{Dir: dir, Now: func() time.Time { return time.Unix(0, n) }}
	_, err := l.Reserve(user, Code, cd)
	var r *Refusal
	switch {
	case err == nil:
		fmt.Println("RESULT ok")
	case errors.As(err, &r):
		fmt.Println("RESULT " + r.Reason)
	default:
		fmt.Println("RESULT error " + err.Error())
	}
}

func TestReserveRaceProcesses(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	const n = 8
	results := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%d", helperEnv, dir, code(i), base.UnixNano()))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("child %d: %v\n%s", i, err, out)
				return
			}
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				if s, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
					results[i] = s
				}
			}
		}()
	}
	wg.Wait()
	counts := map[string]int{}
	for _, r := range results {
		counts[r]++
	}
	if counts["ok"] != lockoutAt || counts["lockout"] != n-lockoutAt {
		t.Fatalf("results %v; want %d ok and %d lockout", counts, lockoutAt, n-lockoutAt)
	}
	if b, err := (&Ledger{Dir: dir, Now: func() time.Time { return base }}).Budget(user); err != nil || b.Rejected != lockoutAt {
		t.Fatalf("Budget = %+v, %v", b, err)
	}
}
