package e2e

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// floodBytes is the size of the log stream BenchmarkLogsRelay moves.
const floodBytes = 200 << 20

// BenchmarkLogsRelay measures `rack-gateway logs -f` moving a 200 MB log
// stream (the sandbox's log-flood knob: 100-byte lines in 32 KiB
// messages) from the gateway through the agent to the CLI's stdout,
// against testdata/wslogs, a plain gorilla/websocket program that dials
// the same stream on the gateway with the same token and prints it. Both
// print to a pipe this process counts; they run alternately so both see
// the same machine load. Target: relay ≥ 0.9× the direct program's
// throughput. Run with
//
//	go test -run '^$' -bench LogsRelay -benchtime 3x ./internal/e2e/
func BenchmarkLogsRelay(b *testing.B) {
	sb := newSandbox(b) // floods are armed per stream: nobody else's stream takes one
	e := newEnv(b)
	e.sb = sb
	e.login("prod", admin)
	e.mustRun("apps") // warm: agent running, profile and token cached
	wslogs := buildTestdata(b, "wslogs")
	// The token goes through the environment, never argv (process lists).
	directEnv := append(os.Environ(), "WSLOGS_URL=ws"+strings.TrimPrefix(sb.URL, "http")+"/api/v1/rack-proxy/apps/demo/logs",
		"WSLOGS_TOKEN="+e.storedToken("prod"))
	cli := filepath.Join(binDir, "rack-gateway")
	arm := func() {
		sb.call(b, "POST", "/_sandbox/log-flood", map[string]any{"bytes": floodBytes}, nil)
	}
	var relay, direct []float64 // MB/s
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		arm()
		direct = append(direct, countStdout(b, directEnv, wslogs))
		arm()
		relay = append(relay, countStdout(b, e.environ(), cli, "logs", "-f", "-a", "demo"))
	}
	b.StopTimer()
	mr, md := medianF(relay), medianF(direct)
	b.ReportMetric(mr, "relay-MB/s")
	b.ReportMetric(md, "direct-MB/s")
	b.ReportMetric(mr/md, "ratio")
}

// buildTestdata builds internal/e2e/testdata/<name> (pure Go) for one
// benchmark and runs it once so its pages are cached.
func buildTestdata(b *testing.B, name string) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), name)
	build := exec.Command("go", "build", "-trimpath", "-o", out, "./testdata/"+name)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build %s: %v\n%s", name, err, msg)
	}
	return out
}

func medianF(v []float64) float64 {
	d := make([]time.Duration, len(v))
	for i, x := range v {
		d[i] = time.Duration(x * 1e6)
	}
	return float64(median(d)) / 1e6
}

// countStdout runs a program that prints the flooded stream, counts its
// stdout (a pipe) until it exits, and returns its throughput in MB/s.
func countStdout(b *testing.B, env []string, path string, args ...string) float64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, path, args...)
	c.Env = env
	out, err := c.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr strings.Builder
	c.Stderr = &stderr
	start := time.Now()
	if err := c.Start(); err != nil {
		b.Fatal(err)
	}
	s := &sink{}
	_, err = io.CopyBuffer(s, out, make([]byte, 256<<10))
	if werr := c.Wait(); werr != nil || err != nil {
		b.Fatalf("%s: %v %v\n%s", filepath.Base(path), werr, err, stderr.String())
	}
	took := time.Since(start)
	if s.n < floodBytes {
		b.Fatalf("%s printed %d bytes, want at least %d", filepath.Base(path), s.n, floodBytes)
	}
	return float64(s.n) / 1e6 / took.Seconds()
}

// sink counts and drops what is written; unlike io.Discard it has no
// ReadFrom, so io.CopyBuffer reads in the caller's large buffer.
type sink struct{ n int64 }

func (s *sink) Write(p []byte) (int, error) { s.n += int64(len(p)); return len(p), nil }
