package core

import (
	"fmt"
	"testing"
)

func TestSeen(t *testing.T) {
	t.Parallel()
	var s Seen
	if _, ok := s.Get("d\x00prod", SeenApps, ""); ok {
		t.Fatal("the zero Seen has apps")
	}
	s.Put("d\x00prod", SeenApps, "", []string{"web", "api"})
	s.Put("d\x00prod", SeenReleases, "web", []string{"R2", "R1"})
	s.Put("d\x00staging", SeenApps, "", []string{"other"})
	if got, ok := s.Get("d\x00prod", SeenApps, ""); !ok || fmt.Sprint(got) != "[web api]" {
		t.Errorf("apps = %v %v", got, ok)
	}
	if got, _ := s.Get("d\x00prod", SeenReleases, "web"); fmt.Sprint(got) != "[R2 R1]" {
		t.Errorf("releases = %v, want the rack's order", got)
	}
	if got, ok := s.Get("d\x00prod", SeenReleases, "api"); ok || got != nil {
		t.Errorf("another app's releases = %v %v", got, ok)
	}
	// Bounded: a huge list is cut, and old lists make room.
	big := make([]string, seenMax+10)
	s.Put("d\x00prod", SeenProcesses, "web", big)
	if got, _ := s.Get("d\x00prod", SeenProcesses, "web"); len(got) != seenMax {
		t.Errorf("kept %d names, want %d", len(got), seenMax)
	}
	for i := 0; i < seenLists+5; i++ {
		s.Put("d\x00prod", SeenReleases, fmt.Sprint("app", i), []string{"R"})
	}
	if len(s.m) > seenLists {
		t.Errorf("%d lists kept, want at most %d", len(s.m), seenLists)
	}
}
