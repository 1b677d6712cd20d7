package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
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

// BenchmarkStepUpSharing runs 8 step-up commands at once in 8 terminals
// against a closed window and counts prompts (target: 1 per round) and the
// gateway requests a later step-up command makes while the window is fresh
// (target: 1, the action itself).
func BenchmarkStepUpSharing(b *testing.B) {
	var prompts, fresh []float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		sb := newSandbox(b) // attempt limits are per user: a new user set per round
		e := newEnv(b)
		e.sb = sb
		e.login("prod", admin)
		sb.expireStepUp(b, admin)
		e.mustRun("racks")
		b.StartTimer()
		terms := make([]*ptyTerm, 8)
		for j := range terms {
			terms[j] = e.startPTY(fmt.Sprintf("t%d", j), stepUpCmd...)
		}
		var first *ptyTerm
		for first == nil {
			for _, p := range terms {
				if p.has("Enter TOTP code:") {
					first = p
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		first.typeSecret(totpCodes.next(b, sb, admin))
		n := 0
		for _, p := range terms {
			if code := p.wait(30 * time.Second); code != 0 {
				b.Fatalf("exit %d:\n%s", code, p.Output())
			}
			n += strings.Count(p.Output(), "Enter TOTP code:")
		}
		prompts = append(prompts, float64(n))
		b.StopTimer()
		before := total(sb.requests(b))
		e.mustRun(stepUpCmd...)
		fresh = append(fresh, float64(total(sb.requests(b))-before))
		b.StartTimer()
	}
	b.ReportMetric(mean(prompts), "prompts/8-commands")
	b.ReportMetric(mean(fresh), "requests/fresh-step-up-command")
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
