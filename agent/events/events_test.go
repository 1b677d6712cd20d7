package events

import "testing"

func TestBusOrderAndFilter(t *testing.T) {
	var b Bus
	all := b.Subscribe(nil)
	logins := b.Subscribe([]string{Login})
	b.Publish(Event{Type: WindowOpened})
	b.Publish(Event{Type: Login, Rack: "prod"})
	b.Publish(Event{Type: Logout})
	for i, want := range []string{WindowOpened, Login, Logout} {
		e := <-all.C
		if e.Type != want || e.Seq != uint64(i+1) {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	if e := <-logins.C; e.Type != Login || e.Rack != "prod" {
		t.Fatalf("filtered: %+v", e)
	}
	b.Unsubscribe(all)
	if _, ok := <-all.C; ok {
		t.Fatal("channel not closed")
	}
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	var b Bus
	s := b.Subscribe(nil)
	for i := 0; i < 2000; i++ {
		b.Publish(Event{Type: Login})
	}
	n := 0
	for range s.C {
		n++
	}
	if !s.Dropped() || n != 1024 {
		t.Fatalf("dropped=%v after %d events", s.Dropped(), n)
	}
}
