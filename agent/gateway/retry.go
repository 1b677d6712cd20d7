package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryWait is the longest Retry-After a request waits out by itself.
// A longer one is the user's to decide on: the error says when to retry.
const MaxRetryWait = 10 * time.Second

// minRetryWait is what a Retry-After of 0 means here. The gateway's
// limiter sends the integer part of 1/rate, so at its default of 10
// requests a second it says 0 while the bucket needs a moment to refill
// (docs/gateway-protocol.md, "Rate limits").
const minRetryWait = time.Second

// RetryAfter reads a 429's Retry-After header, in seconds or as an HTTP
// date, as the wait from now. ok is false when the header is missing or
// unreadable.
func RetryAfter(h http.Header, now time.Time) (wait time.Duration, ok bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second) // no overflow, and no one waits a day
		}
		return max(time.Duration(n)*time.Second, minRetryWait), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), minRetryWait), true
}

// retryable reports whether r may be sent again after a 429: only reads
// (GET, HEAD), and never one that carries an MFA code or proof, which is
// spent once whatever the answer (docs/gateway-protocol.md, "MFA levels").
// A 429 means the gateway did not act on the request, so repeating a read
// can do no harm.
func retryable(r Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-mfa-") {
			return false
		}
	}
	return true
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// wait pauses for d, or until ctx ends (Ctrl-C), whose error it returns.
func (c *Client) wait(ctx context.Context, d time.Duration) error {
	if c.Wait != nil {
		return c.Wait(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// WaitText words a wait for a person, rounded up to the second: "20 s",
// "1 min 30 s", "2 minutes".
func WaitText(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%d s", max(s, 1))
	case s%60 != 0:
		return fmt.Sprintf("%d min %d s", s/60, s%60)
	case s == 60:
		return "1 minute"
	default:
		return fmt.Sprintf("%d minutes", s/60)
	}
}

// retryText is what a 429 says about when to try again.
func retryText(h http.Header, now time.Time) string {
	if d, ok := RetryAfter(h, now); ok {
		return "try again in " + WaitText(d)
	}
	return "try again in a moment"
}

// RetryText is what a 429 error says about when to try again: "try again
// in 20 s", from its Retry-After, else "try again in a moment".
func (e *APIError) RetryText() string { return retryText(e.Header, time.Now()) }
