package e2e

import (
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// BenchmarkRackCommand measures `rack-gateway rack` as a whole process
// with a warm agent, against a Go program that does nothing, run
// alternately so both see the same machine load. Target: ≤ 3× the no-op.
// Run with `make bench` (-benchtime 20x gives 20 samples of each).
func BenchmarkRackCommand(b *testing.B) {
	e := newEnv(b)
	e.login("prod", "admin@example.com")
	e.mustRun("rack") // warm: agent running, profile and token cached
	env := e.environ()
	cli := filepath.Join(binDir, "rack-gateway")
	noop := filepath.Join(binDir, "noop")
	timeOne := func(path string, args ...string) time.Duration {
		c := exec.Command(path, args...)
		c.Env = env
		start := time.Now()
		if err := c.Run(); err != nil {
			b.Fatalf("%s: %v", path, err)
		}
		return time.Since(start)
	}
	var rack, base []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		base = append(base, timeOne(noop))
		rack = append(rack, timeOne(cli, "rack"))
	}
	b.StopTimer()
	mr, mb := median(rack), median(base)
	b.ReportMetric(ms(mr), "rack-median-ms")
	b.ReportMetric(ms(mb), "noop-median-ms")
	b.ReportMetric(float64(mr)/float64(mb), "ratio")
	b.ReportMetric(ms(percentile(rack, 0.9)), "rack-p90-ms")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(d []time.Duration) time.Duration { return percentile(d, 0.5) }

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(p*float64(len(s)-1)+0.5)]
}
