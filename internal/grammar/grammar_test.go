package grammar

import (
	"reflect"
	"testing"
)

func TestFirstWordsSkipsGlobalValues(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		argv []string
		want []string
	}{
		{[]string{"-r", "prod", "--config", "/x", "agent", "--no-open", "stop", "more"}, []string{"agent", "stop"}},
		{[]string{"--rack=prod", "prompt"}, []string{"prompt"}},
		{[]string{"--", "agent", "stop"}, nil},
		{[]string{"-", "x"}, []string{"-", "x"}},
	} {
		if got := FirstWords(c.argv, 2); !reflect.DeepEqual(got, c.want) {
			t.Errorf("FirstWords(%q) = %q, want %q", c.argv, got, c.want)
		}
	}
}

func TestTakesNext(t *testing.T) {
	t.Parallel()
	l := LookupIn([]Flag{{Long: "app", Short: "a", Value: true}, {Long: "follow", Short: "f"}})
	for a, want := range map[string]bool{
		"-a": true, "--app": true, "--app=x": false, "-f": false, "--follow": false,
		"--unknown": true, "-z": true, "-fa": false, "--": false, "x": false,
	} {
		if got := TakesNext(a, l); got != want {
			t.Errorf("TakesNext(%q) = %v, want %v", a, got, want)
		}
	}
}
