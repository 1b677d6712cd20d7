package sandbox

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Rate-limit buckets. Each is independent: exhausting one never
// throttles another.
const (
	bucketAuth        = "auth"
	bucketMFA         = "mfa"
	bucketTokenCreate = "token-create"
)

const rateLimitBody = `{"error":"rate limit exceeded","message":"too many authentication attempts, please try again later"}`

// rateLimiter is a per-IP token bucket with the semantics of
// golang.org/x/time/rate's Allow (which the real server uses): the bucket
// starts full at burst and refills continuously at rps. It reads the
// server's clock so tests can step time instead of sleeping.
type rateLimiter struct {
	rps   float64
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rps float64, burst int, now func() time.Time) *rateLimiter {
	return &rateLimiter{rps: rps, burst: burst, now: now, buckets: map[string]*bucket{}}
}

func (l *rateLimiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(l.burst), last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens += elapsed * l.rps
		if b.tokens > float64(l.burst) {
			b.tokens = float64(l.burst)
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// throttle writes the real server's 429 when the bucket is empty and
// reports whether the request was refused.
func (s *Server) throttle(name string, w http.ResponseWriter, r *http.Request) bool {
	l := s.limiters[name]
	if l == nil || l.allow(clientIP(r)) {
		return false
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// Integer conversions as in the real server: 1/10 rps → "0".
	h.Set("Retry-After", strconv.Itoa(int(1/l.rps)))
	h.Set("X-RateLimit-Limit", strconv.Itoa(int(l.rps)))
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(s.now().Add(time.Second).Unix(), 10))
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(rateLimitBody))
	return true
}

// limited wraps an unauthenticated route with a bucket.
func (s *Server) limited(name string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.throttle(name, w, r) {
			return
		}
		h(w, r)
	}
}
