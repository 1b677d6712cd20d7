package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkAppsCommand measures `rack-gateway apps` as a whole process
// through a warm agent against the sandbox on loopback, next to a small Go
// program that makes the same single HTTP request with the same session
// token: the cost of the CLI → agent → gateway path over the request
// itself. The two run alternately so both see the same machine load.
// Targets: ratio ≤ 1.5 and apps median ≤ 10 ms. Run with `make bench`.
func BenchmarkAppsCommand(b *testing.B) {
	e := newEnv(b)
	e.login("prod", admin)
	e.mustRun("apps") // warm: agent running, profile, token and connection cached
	oneget := filepath.Join(b.TempDir(), "oneget")
	build := exec.Command("go", "build", "-trimpath", "-o", oneget, "./testdata/oneget")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build oneget: %v\n%s", err, out)
	}
	cliEnv := e.environ()
	// The token goes through the environment, never argv (process lists).
	getEnv := append(os.Environ(), "ONEGET_URL="+e.sb.URL+"/api/v1/rack-proxy/apps", "ONEGET_TOKEN="+e.storedToken("prod"))
	timeOne := func(env []string, path string, args ...string) time.Duration {
		c := exec.Command(path, args...)
		c.Env = env
		start := time.Now()
		if out, err := c.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", path, err, out)
		}
		return time.Since(start)
	}
	timeOne(getEnv, oneget) // warm the page cache for the new binary
	cli := filepath.Join(binDir, "rack-gateway")
	var apps, base []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		base = append(base, timeOne(getEnv, oneget))
		apps = append(apps, timeOne(cliEnv, cli, "apps"))
	}
	b.StopTimer()
	ma, mb := median(apps), median(base)
	b.ReportMetric(ms(ma), "apps-median-ms")
	b.ReportMetric(ms(mb), "oneget-median-ms")
	b.ReportMetric(float64(ma)/float64(mb), "ratio")
}
