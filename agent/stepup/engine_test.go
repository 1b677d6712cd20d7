package stepup

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/ipc"
)

type fakeGW struct {
	status, verify atomic.Int32
	good           string
	window         time.Duration
}

func (f *fakeGW) MFAStatus(context.Context) (*gateway.MFAStatus, error) {
	f.status.Add(1)
	return &gateway.MFAStatus{Enrolled: true, Methods: []gateway.MFAMethod{{Type: "totp"}}}, nil
}

func (f *fakeGW) VerifyCode(_ context.Context, code string) (*gateway.VerifyResult, error) {
	f.verify.Add(1)
	if code != f.good {
		return nil, &gateway.APIError{Status: http.StatusBadRequest, Code: "verification failed"}
	}
	return &gateway.VerifyResult{RecentStepUpExpiresAt: time.Now().Add(f.window)}, nil
}

func (f *fakeGW) WebAuthnStart(context.Context) (*gateway.AssertionStart, error) { return nil, nil }
func (f *fakeGW) WebAuthnVerify(context.Context, string, string) (*gateway.VerifyResult, error) {
	return nil, nil
}

type fakeTerm struct {
	mu      sync.Mutex
	answers []string
	asked   int
	can     bool
	err     bytes.Buffer
	delay   time.Duration
}

func (t *fakeTerm) CanPrompt() bool { return t.can }
func (t *fakeTerm) Prompt(ctx context.Context, _ ipc.Prompt) (string, error) {
	time.Sleep(t.delay)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.asked++
	a := t.answers[0]
	t.answers = t.answers[1:]
	return a, nil
}

func (t *fakeTerm) Stderr() io.Writer { return termWriter{t} }

type termWriter struct{ t *fakeTerm }

func (w termWriter) Write(p []byte) (int, error) {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	return w.t.err.Write(p)
}

func session(gw Verifier) Session {
	return Session{Key: "k", User: "u", Rack: "prod", Gateway: gw}
}

func TestSharedWindowOnePrompt(t *testing.T) {
	gw := &fakeGW{good: "123456", window: 10 * time.Minute}
	e := New()
	term := &fakeTerm{answers: []string{"123 456"}, can: true, delay: 50 * time.Millisecond}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.EnsureWindow(context.Background(), session(gw), term, Request{Who: "t"})
		}()
	}
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

func TestGuardStopsBeforeFifthFailure(t *testing.T) {
	gw := &fakeGW{good: "999999", window: time.Minute}
	e := New()
	term := &fakeTerm{answers: []string{"000001", "000002", "000003", "000004", "999999"}, can: true}
	err := e.EnsureWindow(context.Background(), session(gw), term, Request{})
	if ipc.AsError(err).Code != ipc.CodeMFALocked || gw.verify.Load() != 4 {
		t.Fatalf("err %v after %d verifies", err, gw.verify.Load())
	}
}

func TestNoTerminal(t *testing.T) {
	gw := &fakeGW{good: "1", window: time.Minute}
	err := New().EnsureWindow(context.Background(), session(gw), &fakeTerm{}, Request{})
	if e := ipc.AsError(err); e.Code != ipc.CodeStepUpRequired || gw.verify.Load() != 0 {
		t.Fatalf("%v", err)
	}
}

func TestNormalizeCode(t *testing.T) {
	for in, want := range map[string]string{"123 456": "123456", " 12ab-34cd ": "12AB-34CD", "abcdef012345": "ABCDEF012345", "cccccbhnr": "cccccbhnr"} {
		if got := NormalizeCode(in); got != want {
			t.Errorf("NormalizeCode(%q) = %q, want %q", in, got, want)
		}
	}
}
