package cli

import (
	"reflect"
	"testing"
)

func TestExecMode(t *testing.T) {
	cases := []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"racks"}, "", ""},
		{[]string{"--no-agent", "racks"}, "", "no-agent"},
		{[]string{"racks", "--api-token", "x"}, "", "api-token"},
		{[]string{"racks", "--api-token=x"}, "", "api-token"},
		{[]string{"racks"}, "rgw_x", "api-token"},
		{[]string{"racks"}, "  ", ""},
		// After "--" nothing is ours to read.
		{[]string{"exec", "1", "--", "--no-agent"}, "", ""},
	}
	for _, c := range cases {
		if got := execMode(c.args, c.env); got != c.want {
			t.Errorf("execMode(%q, %q) = %q, want %q", c.args, c.env, got, c.want)
		}
	}
}

func TestCommandWords(t *testing.T) {
	got := commandWords([]string{"-r", "prod", "--config", "/x", "agent", "--no-open", "stop", "more"}, 2)
	if want := []string{"agent", "stop"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
}
