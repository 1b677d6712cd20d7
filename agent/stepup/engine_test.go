package stepup

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/ledger"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// clock is a fake time source shared by an engine and its ledger.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type fakeGW struct {
	clock          *clock
	status, verify atomic.Int32
	good           string // "" accepts any code
	window         time.Duration
	// advance moves the clock on each verify (so codes fall into new TOTP
	// steps and out of the rate limit in long runs).
	advance time.Duration
	// answer, when set, replaces the answer to a verify.
	answer error
}

func (f *fakeGW) MFAStatus(context.Context) (*gateway.MFAStatus, error) {
	f.status.Add(1)
	return &gateway.MFAStatus{Enrolled: true, Methods: []gateway.MFAMethod{{Type: "totp"}}}, nil
}

func (f *fakeGW) VerifyCode(_ context.Context, code string) (*gateway.VerifyResult, error) {
	f.verify.Add(1)
	f.clock.Add(f.advance)
	if f.answer != nil {
		return nil, f.answer
	}
	if f.good != "" && code != f.good {
		return nil, &gateway.APIError{Status: http.StatusBadRequest, Code: "verification failed"}
	}
	return &gateway.VerifyResult{RecentStepUpExpiresAt: f.clock.Now().Add(f.window)}, nil
}

func (f *fakeGW) WebAuthnStart(context.Context) (*gateway.AssertionStart, error) { return nil, nil }
func (f *fakeGW) WebAuthnVerify(context.Context, string, string) (*gateway.VerifyResult, error) {
	return nil, nil
}

type fakeTerm struct {
	mu       sync.Mutex
	answers  []string
	next     func() string // answers when answers runs out
	asked    int
	inFlight int
	maxIn    int
	can      bool
	err      bytes.Buffer
	// wait, when set, is closed before a prompt returns.
	wait chan struct{}
}

func (t *fakeTerm) CanPrompt() bool { return t.can }
func (t *fakeTerm) Prompt(ctx context.Context, _ ipc.Prompt) (string, error) {
	t.mu.Lock()
	t.asked++
	t.inFlight++
	if t.inFlight > t.maxIn {
		t.maxIn = t.inFlight
	}
	var a string
	if len(t.answers) > 0 {
		a, t.answers = t.answers[0], t.answers[1:]
	} else if t.next != nil {
		a = t.next()
	}
	t.mu.Unlock()
	if t.wait != nil {
		<-t.wait
	}
	t.mu.Lock()
	t.inFlight--
	t.mu.Unlock()
	return a, nil
}

func (t *fakeTerm) Stderr() io.Writer { return termWriter{t} }

type termWriter struct{ t *fakeTerm }

func (w termWriter) Write(p []byte) (int, error) {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	return w.t.err.Write(p)
}

func newEngine(t *testing.T, c *clock) *Engine {
	l := ledger.Open(t.TempDir())
	l.Now = c.Now
	e := New(l)
	e.Now = c.Now
	return e
}

func session(gw Verifier) Session {
	return Session{Key: "k", User: "https://gw\x00u@example.com", Rack: "prod", Gateway: gw}
}

func TestSharedWindowOnePrompt(t *testing.T) {
	t.Parallel()
	c := newClock()
	gw := &fakeGW{clock: c, good: "123456", window: 10 * time.Minute}
	e := newEngine(t, c)
	release := make(chan struct{})
	term := &fakeTerm{answers: []string{"123 456"}, can: true, wait: release}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.EnsureWindow(context.Background(), session(gw), term, Request{Who: "t"})
		}()
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if term.asked != 1 || gw.verify.Load() != 1 || gw.status.Load() != 1 {
		t.Fatalf("asked %d, verified %d, status %d; want 1, 1, 1", term.asked, gw.verify.Load(), gw.status.Load())
	}
	// Fresh window: no request at all.
	if err := e.EnsureWindow(context.Background(), session(gw), term, Request{}); err != nil {
		t.Fatal(err)
	}
	if gw.verify.Load() != 1 || gw.status.Load() != 1 {
		t.Fatal("a fresh window made a request")
	}
}

func TestLedgerStopsBeforeFifthFailure(t *testing.T) {
	t.Parallel()
	c := newClock()
	gw := &fakeGW{clock: c, good: "999999", window: time.Minute, advance: 31 * time.Second}
	e := newEngine(t, c)
	term := &fakeTerm{answers: []string{"000001", "000002", "000003", "000004", "999999"}, can: true}
	err := e.EnsureWindow(context.Background(), session(gw), term, Request{})
	if ipc.AsError(err).Code != ipc.CodeMFALocked || gw.verify.Load() != 4 {
		t.Fatalf("err %v after %d verifies", err, gw.verify.Load())
	}
	// A new engine (an agent restart) reads the same ledger: nothing sent.
	e2 := New(e.Ledger)
	e2.Now = c.Now
	err = e2.EnsureWindow(context.Background(), session(gw), &fakeTerm{answers: []string{"999999"}, can: true}, Request{})
	if ipc.AsError(err).Code != ipc.CodeMFALocked || gw.verify.Load() != 4 {
		t.Fatalf("after restart: err %v after %d verifies", err, gw.verify.Load())
	}
	if !strings.Contains(err.Error(), "Nothing was sent") {
		t.Errorf("refusal does not say nothing was sent: %v", err)
	}
}

func TestMFACodeGoesThroughTheLedger(t *testing.T) {
	t.Parallel()
	c := newClock()
	gw := &fakeGW{clock: c, good: "999999", window: time.Minute, advance: 31 * time.Second}
	e := newEngine(t, c)
	term := &fakeTerm{}
	for i := 0; i < 7; i++ {
		err := e.EnsureWindow(context.Background(), session(gw), term, Request{MFACode: fmt.Sprintf("00000%d", i)})
		if err == nil {
			t.Fatalf("run %d: a wrong code opened the window", i)
		}
		if i < 4 && strings.Contains(err.Error(), "--mfa-code <code>") {
			t.Errorf("a refused --mfa-code tells the user to pass --mfa-code: %v", err)
		}
	}
	if n := gw.verify.Load(); n != 4 {
		t.Fatalf("%d wrong --mfa-code verifications reached the gateway, want 4", n)
	}
}

func TestSameCodeIsNeverSentTwice(t *testing.T) {
	t.Parallel()
	c := newClock()
	gw := &fakeGW{clock: c, window: time.Minute}
	e := newEngine(t, c)
	s := session(gw)
	if err := e.EnsureWindow(context.Background(), s, &fakeTerm{}, Request{MFACode: "123456"}); err != nil {
		t.Fatal(err)
	}
	p, err := e.Proof(context.Background(), s, &fakeTerm{}, Request{MFACode: "123456"})
	if err == nil || p != nil {
		t.Fatal("the same --mfa-code was made into a second proof")
	}
	if strings.Contains(err.Error(), "more than one proof") {
		t.Errorf("misleading message for a reused code: %v", err)
	}
}

func TestServerRateLimitStopsSending(t *testing.T) {
	t.Parallel()
	c := newClock()
	gw := &fakeGW{clock: c, window: time.Minute, advance: 31 * time.Second,
		answer: &gateway.APIError{Status: http.StatusBadRequest, Code: "too many attempts - try again in 5 minutes"}}
	e := newEngine(t, c)
	err := e.EnsureWindow(context.Background(), session(gw), &fakeTerm{}, Request{MFACode: "111111"})
	if ipc.AsError(err).Code != ipc.CodeMFALocked {
		t.Fatalf("err %v", err)
	}
	gw.answer = nil
	err = e.EnsureWindow(context.Background(), session(gw), &fakeTerm{}, Request{MFACode: "222222"})
	if err == nil || gw.verify.Load() != 1 {
		t.Fatalf("sent after the server's block: err %v, verifies %d", err, gw.verify.Load())
	}
}

func TestShortWindowServesTheCommandThatOpenedIt(t *testing.T) {
	t.Parallel()
	c := newClock()
	gw := &fakeGW{clock: c, window: 5 * time.Second}
	e := newEngine(t, c)
	s := session(gw)
	term := &fakeTerm{answers: []string{"123456"}, can: true}
	if err := e.EnsureWindow(context.Background(), s, term, Request{}); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Second)
	if !e.Fresh(s.Key) {
		t.Fatal("a 5 s window is not fresh 1 s after it opened: the margin swallowed it")
	}
	if err := e.EnsureWindow(context.Background(), s, term, Request{}); err != nil || term.asked != 1 {
		t.Fatalf("err %v, asked %d: the command was made to verify again", err, term.asked)
	}
}

func TestClosedKeepsAWindowOpenedSince(t *testing.T) {
	t.Parallel()
	c := newClock()
	gw := &fakeGW{clock: c, window: time.Hour}
	e := newEngine(t, c)
	s := session(gw)
	stamp := e.Stamp(s.Key)
	if err := e.EnsureWindow(context.Background(), s, &fakeTerm{answers: []string{"123456"}, can: true}, Request{}); err != nil {
		t.Fatal(err)
	}
	e.Closed(s.Key, stamp) // a 401 for a request sent before the verify
	if !e.Fresh(s.Key) {
		t.Fatal("a late 401 closed the window another terminal just opened")
	}
	e.Closed(s.Key, e.Stamp(s.Key))
	if e.Fresh(s.Key) {
		t.Fatal("Closed with the current stamp left the window open")
	}
}

type breaker struct {
	*fakeTerm
	broke, resumed int
}

func (b *breaker) BreakLine() func() {
	b.broke++
	return func() { b.resumed++ }
}

func TestPromptBreaksAndResumesTheOpenLine(t *testing.T) {
	t.Parallel()
	c := newClock()
	gw := &fakeGW{clock: c, window: time.Hour}
	e := newEngine(t, c)
	b := &breaker{fakeTerm: &fakeTerm{answers: []string{"123456"}, can: true}}
	if err := e.EnsureWindow(context.Background(), session(gw), b, Request{}); err != nil {
		t.Fatal(err)
	}
	if b.broke != 1 || b.resumed != 1 {
		t.Fatalf("broke %d, resumed %d; want 1, 1", b.broke, b.resumed)
	}
	// A fresh window says nothing and breaks nothing.
	if err := e.EnsureWindow(context.Background(), session(gw), b, Request{}); err != nil || b.broke != 1 {
		t.Fatalf("err %v, broke %d", err, b.broke)
	}
}

// TestStress runs EnsureWindow, Forget, Unknown, Closed and Observe
// concurrently (run it with -race): every call succeeds, prompts never
// overlap, and each prompt opens exactly one window.
func TestStress(t *testing.T) {
	t.Parallel()
	c := newClock()
	gw := &fakeGW{clock: c, window: time.Hour, advance: 61 * time.Second}
	e := newEngine(t, c)
	var n atomic.Int64
	term := &fakeTerm{can: true, next: func() string { return fmt.Sprintf("%012X", n.Add(1)) }}
	s := session(gw)
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			switch i % 10 {
			case 0:
				e.Forget(s.Key)
			case 1:
				e.Unknown(s.Key)
			case 2:
				exp := c.Now().Add(time.Hour)
				e.Observe(s.Key, &exp, "", "")
			case 3:
				e.Closed(s.Key, e.Stamp(s.Key))
			default:
				if err := e.EnsureWindow(context.Background(), s, term, Request{Who: fmt.Sprint(i)}); err != nil {
					errs <- err
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	term.mu.Lock()
	defer term.mu.Unlock()
	if term.maxIn != 1 {
		t.Errorf("%d prompts at once for one session", term.maxIn)
	}
	t.Logf("%d prompts, %d verifications", term.asked, gw.verify.Load())
	if int(gw.verify.Load()) != term.asked {
		t.Errorf("%d prompts but %d verifications", term.asked, gw.verify.Load())
	}
}

func TestNoTerminal(t *testing.T) {
	t.Parallel()
	c := newClock()
	gw := &fakeGW{clock: c, good: "1", window: time.Minute}
	err := newEngine(t, c).EnsureWindow(context.Background(), session(gw), &fakeTerm{}, Request{})
	if e := ipc.AsError(err); e.Code != ipc.CodeStepUpRequired || gw.verify.Load() != 0 {
		t.Fatalf("%v", err)
	}
}

func TestNormalizeCode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"123 456": "123456", " 12ab-34cd ": "12AB-34CD", "abcdef012345": "ABCDEF012345", "cccccbhnr": "cccccbhnr"} {
		if got := NormalizeCode(in); got != want {
			t.Errorf("NormalizeCode(%q) = %q, want %q", in, got, want)
		}
	}
}
