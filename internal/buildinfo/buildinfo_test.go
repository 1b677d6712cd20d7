package buildinfo

import "testing"

func TestCompare(t *testing.T) {
	cases := []struct {
		a, b string
		cmp  int
		ok   bool
	}{
		{"v1.2.3", "v1.2.3", 0, true},
		{"v1.2.3", "1.2.3", 0, true},
		{"v1.2.3", "v1.10.0", -1, true},
		{"v2.0.0", "v1.99.99", 1, true},
		{"v1.2.3-rc.1", "v1.2.3", -1, true},
		{"v1.2.3-rc.2", "v1.2.3-rc.1", 1, true},
		{"v1.2.3+abc", "v1.2.3+def", 0, true},
		{"dev", "v1.2.3", 0, false},
		{"v1.2", "v1.2.3", 0, false},
		{"v1.2.3.4", "v1.2.3", 0, false},
		{"v1..3", "v1.2.3", 0, false},
		{"v1.2.3-", "v1.2.3", 0, false},
		{"", "", 0, false},
	}
	for _, c := range cases {
		cmp, ok := Compare(c.a, c.b)
		if cmp != c.cmp || ok != c.ok {
			t.Errorf("Compare(%q, %q) = %d, %v; want %d, %v", c.a, c.b, cmp, ok, c.cmp, c.ok)
		}
	}
}
