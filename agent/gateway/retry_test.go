package gateway_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
)

// throttled answers 429 with Retry-After the first n times, then 200.
func throttled(n int32, retryAfter string) http.HandlerFunc {
	var seen atomic.Int32
	return func(w http.ResponseWriter, _ *http.Request) {
		if seen.Add(1) <= n {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":"rate limit exceeded","message":"too many authentication attempts, please try again later"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}
}

// fakeClock stands still; its waits are recorded, never slept.
type fakeClock struct {
	now   time.Time
	waits []time.Duration
	err   error
}

func (f *fakeClock) install(c *gateway.Client) {
	c.Now = func() time.Time { return f.now }
	c.Wait = func(_ context.Context, d time.Duration) error {
		f.waits = append(f.waits, d)
		f.now = f.now.Add(d)
		return f.err
	}
}

func TestRetryAfter429(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name       string
		n          int32
		retryAfter string
		req        gateway.Request
		deadline   time.Duration // from the fake now; 0: none
		waitErr    error
		status     int
		reqs       int
		waits      []time.Duration
	}{
		{"a read is retried once after the wait", 1, "2", gateway.Request{Method: "GET", Path: "/api/v1/info"}, 0, nil, 200, 2, []time.Duration{2 * time.Second}},
		{"zero means a moment, not at once", 1, "0", gateway.Request{Method: "GET", Path: "/api/v1/info"}, 0, nil, 200, 2, []time.Duration{time.Second}},
		{"an HTTP date", 1, epoch.Add(3 * time.Second).Format(http.TimeFormat), gateway.Request{Method: "HEAD", Path: "/api/v1/info"}, 0, nil, 200, 2, []time.Duration{3 * time.Second}},
		{"only once", 2, "1", gateway.Request{Method: "GET", Path: "/api/v1/info"}, 0, nil, 429, 2, []time.Duration{time.Second}},
		{"a write is never repeated", 1, "1", gateway.Request{Method: "POST", Path: "/api/v1/auth/cli/start"}, 0, nil, 429, 1, nil},
		{"nor a request with an MFA proof", 1, "1", gateway.Request{Method: "GET", Path: "/api/v1/rack-proxy/apps", Header: http.Header{"X-Mfa-Totp": {"123456"}}}, 0, nil, 429, 1, nil},
		{"too long a wait is the user's", 1, "30", gateway.Request{Method: "GET", Path: "/api/v1/info"}, 0, nil, 429, 1, nil},
		{"nor past the deadline", 1, "5", gateway.Request{Method: "GET", Path: "/api/v1/info"}, 4 * time.Second, nil, 429, 1, nil},
		{"within the deadline", 1, "5", gateway.Request{Method: "GET", Path: "/api/v1/info"}, 6 * time.Second, nil, 200, 2, []time.Duration{5 * time.Second}},
		{"no Retry-After, no retry", 1, "", gateway.Request{Method: "GET", Path: "/api/v1/info"}, 0, nil, 429, 1, nil},
		{"Ctrl-C during the wait", 1, "2", gateway.Request{Method: "GET", Path: "/api/v1/info"}, 0, context.Canceled, 0, 1, []time.Duration{2 * time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, rec := newGateway(t, throttled(tc.n, tc.retryAfter))
			clock := &fakeClock{now: epoch, err: tc.waitErr}
			clock.install(c)
			ctx := context.Background()
			if tc.deadline > 0 {
				// The deadline is real time; the client compares it with
				// its own clock, so put the fake clock just before it.
				dl := time.Now().Add(time.Hour)
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, dl)
				defer cancel()
				clock.now = dl.Add(-tc.deadline)
			}
			raw, err := c.DoRaw(ctx, tc.req)
			switch {
			case tc.waitErr != nil:
				if err != tc.waitErr {
					t.Errorf("err %v, want %v", err, tc.waitErr)
				}
			case err != nil:
				t.Fatal(err)
			case raw.Status != tc.status:
				t.Errorf("status %d, want %d", raw.Status, tc.status)
			}
			if n := rec.count(); n != tc.reqs {
				t.Errorf("%d requests, want %d", n, tc.reqs)
			}
			if len(clock.waits) != len(tc.waits) || (len(tc.waits) > 0 && clock.waits[0] != tc.waits[0]) {
				t.Errorf("waits %v, want %v", clock.waits, tc.waits)
			}
		})
	}
}

func TestWaitText(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "1 s", 1500 * time.Millisecond: "2 s", 20 * time.Second: "20 s", 60 * time.Second: "1 minute",
		90 * time.Second: "1 min 30 s", 120 * time.Second: "2 minutes",
	} {
		if got := gateway.WaitText(d); got != want {
			t.Errorf("WaitText(%v) = %q, want %q", d, got, want)
		}
	}
	e := gateway.NewAPIError("POST", &gateway.Raw{Status: 429, Header: http.Header{"Retry-After": {"20"}}, Body: []byte("Too Many Requests")})
	if got := e.Error(); got != "gateway answered 429 Too Many Requests: Too Many Requests; try again in 20 s" {
		t.Errorf("Error() = %q", got)
	}
}
