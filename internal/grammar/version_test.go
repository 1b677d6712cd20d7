package grammar

import (
	"reflect"
	"testing"
)

func TestVersionArgs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want []string }{
		{[]string{"--version"}, []string{"version"}},
		{[]string{"-r", "prod", "--version"}, []string{"-r", "prod", "version"}},
		{[]string{"apps", "--version", "--rack=staging"}, []string{"--rack=staging", "version"}},
		{[]string{"run", "web", "--", "--version"}, []string{"run", "web", "--", "--version"}},
		{[]string{"apps"}, []string{"apps"}},
		// rack update's own --version names the version to update to.
		{[]string{"rack", "-r", "prod", "update", "--version", "3.21.4"}, []string{"rack", "-r", "prod", "update", "--version", "3.21.4"}},
		{[]string{"--version", "rack", "update"}, []string{"version"}},
		{[]string{"rack", "--version"}, []string{"version"}},
	} {
		if got := VersionArgs(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("VersionArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
