package core

import (
	"testing"
	"time"
)

func TestPINCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := &PINCache{Now: func() time.Time { return now }}
	c.Put("1234", 0)
	if _, ok := c.Get(); ok {
		t.Fatal("ttl 0 must cache nothing (the default)")
	}
	c.Put("1234", time.Minute)
	if pin, ok := c.Get(); !ok || pin != "1234" {
		t.Fatalf("got %q %v", pin, ok)
	}
	now = now.Add(time.Minute)
	if _, ok := c.Get(); ok {
		t.Fatal("expired PIN returned")
	}
	c.Put("5678", time.Hour)
	c.Clear()
	if _, ok := c.Get(); ok {
		t.Fatal("cleared PIN returned")
	}
}
