package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// BenchmarkAppsCommand measures `rack-gateway apps` as a whole process
// through a warm agent against the sandbox on loopback, over plain HTTP
// and over HTTPS (a --tls sandbox, its CA passed as SSL_CERT_FILE), next
// to oneget: a small Go program that makes the same single request with
// the same session token on a fresh connection, as any one-shot client
// (the upstream CLI among them) must. The agent's keep-alive connection
// saves that program's connect (and TLS handshake); the relay through the
// agent should cost less than what it saves. Goals: ratio ≤ 0.75 over
// HTTP, ≤ 0.5 over HTTPS.
//
// The floor is what no design can beat: a process that does nothing
// (noop) plus one request on a connection already open (warm-request, the
// same request from this process's own keep-alive client, as the agent
// makes it). apps/floor says how close apps comes to it.
//
// Every sample of each kind runs in turn, so all see the same machine
// load; medians throughout. Run with `make bench`, or
//
//	go test -run '^$' -bench AppsCommand -benchtime 40x ./internal/e2e/
func BenchmarkAppsCommand(b *testing.B) {
	b.Run("http", func(b *testing.B) {
		e := newEnv(b)
		e.login("prod", admin)
		benchApps(b, e)
	})
	b.Run("https", func(b *testing.B) {
		benchApps(b, newTLSEnv(b))
	})
}

func benchApps(b *testing.B, e *env) {
	e.mustRun("apps") // warm: agent running, profile, token and connection cached
	url := e.sb.URL + "/api/v1/rack-proxy/apps"
	token := e.storedToken("prod")
	// The token goes through the environment, never argv (process lists).
	getEnv := append(os.Environ(), "ONEGET_URL="+url, "ONEGET_TOKEN="+token)
	if e.sb.CAFile != "" {
		getEnv = append(getEnv, "SSL_CERT_FILE="+e.sb.CAFile)
	}
	cliEnv := e.environ()
	oneget := onegetBinary(b)
	noop := filepath.Join(binDir, "noop")
	cli := filepath.Join(binDir, "rack-gateway")
	timeOne := func(env []string, path string, args ...string) time.Duration {
		c := exec.Command(path, args...)
		c.Env = env
		start := time.Now()
		if out, err := c.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", path, err, out)
		}
		return time.Since(start)
	}
	warm := e.sb.httpClient(b)
	defer warm.CloseIdleConnections()
	warmOne := func() time.Duration {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := warm.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("warm request: %s", resp.Status)
		}
		return d
	}
	timeOne(getEnv, oneget) // the page cache, for a new binary
	warmOne()               // open the connection
	var apps, base, noops, reqs []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		base = append(base, timeOne(getEnv, oneget))
		apps = append(apps, timeOne(cliEnv, cli, "apps"))
		noops = append(noops, timeOne(cliEnv, noop))
		reqs = append(reqs, warmOne())
	}
	b.StopTimer()
	ma, mb := median(apps), median(base)
	floor := median(noops) + median(reqs)
	b.ReportMetric(ms(ma), "apps-median-ms")
	b.ReportMetric(ms(mb), "oneget-median-ms")
	b.ReportMetric(float64(ma)/float64(mb), "ratio")
	b.ReportMetric(ms(median(noops)), "noop-median-ms")
	b.ReportMetric(ms(median(reqs)), "warm-request-median-ms")
	b.ReportMetric(ms(floor), "floor-ms")
	b.ReportMetric(float64(ma)/float64(floor), "apps/floor")
	b.ReportMetric(loadAvgNow(), "load-avg-1m")
}

var onegetOnce struct {
	sync.Once
	path string
	err  error
}

// onegetBinary builds testdata/oneget once per test binary.
func onegetBinary(b *testing.B) string {
	b.Helper()
	onegetOnce.Do(func() {
		onegetOnce.path = filepath.Join(binDir, "oneget")
		build := exec.Command("go", "build", "-trimpath", "-o", onegetOnce.path, "./testdata/oneget")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			onegetOnce.err = fmt.Errorf("build oneget: %v\n%s", err, out)
		}
	})
	if onegetOnce.err != nil {
		b.Fatal(onegetOnce.err)
	}
	return onegetOnce.path
}

// loadAvgNow is the machine's 1-minute load average, reported beside
// timings so a reader can tell a quiet run from a busy one (0 where
// /proc/loadavg does not exist).
func loadAvgNow() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var v float64
	_, _ = fmt.Sscan(string(data), &v)
	return v
}
