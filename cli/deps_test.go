package cli

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The thin CLI must never link the agent, the keyring, FIDO2 or any cgo
// package: it is the part of the product that runs in every terminal and
// holds no secrets. This test fails the build of any change that breaks it.
func TestThinCLIDependencies(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	for _, cgo := range []string{"0", "1"} {
		cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{len .CgoFiles}}", "../cmd/rack-gateway")
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list (CGO_ENABLED=%s): %v\n%s", cgo, err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			pkg, n, _ := strings.Cut(line, " ")
			switch {
			case strings.Contains(pkg, "/rack-gateway/agent"):
				t.Errorf("CGO_ENABLED=%s: the CLI imports %s", cgo, pkg)
			case strings.Contains(pkg, "go-keyring"), strings.Contains(pkg, "libfido2"),
				strings.Contains(pkg, "godbus"), strings.Contains(pkg, "platform/secrets"),
				strings.Contains(pkg, "kardianos"), strings.Contains(pkg, "platform/service"):
				t.Errorf("CGO_ENABLED=%s: the CLI imports %s", cgo, pkg)
			case cgo == "0" && pkg == "runtime/cgo":
				t.Errorf("CGO_ENABLED=0: the CLI links runtime/cgo")
			case n != "0" && !isStd(pkg):
				// With cgo on, the standard library's net and os/user use
				// cgo; the Makefile builds the CLI with CGO_ENABLED=0.
				// Nothing of ours or of a third party may.
				t.Errorf("CGO_ENABLED=%s: %s has cgo files", cgo, pkg)
			}
		}
	}
}

func isStd(pkg string) bool {
	first, _, _ := strings.Cut(pkg, "/")
	return !strings.Contains(first, ".")
}
