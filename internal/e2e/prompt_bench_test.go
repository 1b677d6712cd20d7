package e2e

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/platform/statusfile"
)

// BenchmarkPromptCommand measures `rack-gateway prompt` as a whole process,
// as a shell prompt runs it on every Enter, against a Go program that does
// nothing, run alternately so both see the same machine load. No agent is
// running: the command only reads the status file. Target: ≤ 1.5× the no-op
// and well under 50 ms.
//
// startup-median-ms times `rack-gateway prompt --bad-flag`, which returns
// before reading anything: the floor that the CLI binary's start-up (runtime
// and package init of everything it links, net/http and crypto/tls for the
// relay included) puts under any command, so the prompt's own work is
// prompt-median-ms minus that. Run with
//
//	go test -run '^$' -bench PromptCommand -benchtime 30x ./internal/e2e/
func BenchmarkPromptCommand(b *testing.B) {
	e := newEnv(b)
	e.promptWriteStatus(
		statusfile.Entry{Rack: "prod", Expires: time.Now().Add(time.Hour), Email: "admin@example.com", Current: true},
		statusfile.Entry{Rack: "staging", Email: "deployer@example.com"},
	)
	env := e.environ()
	cli := filepath.Join(binDir, "rack-gateway")
	noop := filepath.Join(binDir, "noop")
	// The command must really print the segment, or we would time nothing.
	if out, err := (&exec.Cmd{Path: cli, Args: []string{cli, "prompt"}, Env: env}).Output(); err != nil || len(out) == 0 {
		b.Fatalf("rack-gateway prompt printed %q (%v)", out, err)
	}
	timeOne := func(path string, args ...string) time.Duration {
		c := exec.Command(path, args...)
		c.Env = env
		start := time.Now()
		if err := c.Run(); err != nil {
			b.Fatalf("%s: %v", path, err)
		}
		return time.Since(start)
	}
	var prompt, base, startup []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		base = append(base, timeOne(noop))
		prompt = append(prompt, timeOne(cli, "prompt"))
		startup = append(startup, timeOne(cli, "prompt", "--bad-flag"))
	}
	b.StopTimer()
	mp, mb := median(prompt), median(base)
	b.ReportMetric(ms(mp), "prompt-median-ms")
	b.ReportMetric(ms(mb), "noop-median-ms")
	b.ReportMetric(float64(mp)/float64(mb), "ratio")
	b.ReportMetric(ms(percentile(prompt, 0.9)), "prompt-p90-ms")
	b.ReportMetric(ms(median(startup)), "startup-median-ms")
	promptNoAgent(b, e)
}
