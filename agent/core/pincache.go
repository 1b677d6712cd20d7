package core

import (
	"sync"
	"time"
)

// PINCache keeps a security key's PIN in agent memory for a user-chosen
// time (config webauthn_pin_cache_seconds, default 0: never). It is never
// written anywhere, and is dropped when the key rejects it.
type PINCache struct {
	Now func() time.Time

	mu      sync.Mutex
	pin     []byte
	expires time.Time
}

// Get returns the cached PIN if it has not expired.
func (c *PINCache) Get() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pin == nil || !c.now().Before(c.expires) {
		c.clearLocked()
		return "", false
	}
	return string(c.pin), true
}

// Put caches pin for ttl; a ttl of zero or less caches nothing.
func (c *PINCache) Put(pin string, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
	if ttl <= 0 {
		return
	}
	c.pin, c.expires = []byte(pin), c.now().Add(ttl)
}

// Clear forgets the PIN.
func (c *PINCache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
}

func (c *PINCache) clearLocked() {
	for i := range c.pin {
		c.pin[i] = 0 // as far as Go lets us: the string copies handed out are not ours
	}
	c.pin = nil
}

func (c *PINCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
