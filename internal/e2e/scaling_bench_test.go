package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkAppsRacks measures `rack-gateway apps` (whole CLI process,
// warm agent) with 1, 10 and 100 racks configured, all logged in: how the
// cost of a command grows with the size of config.json and the credential
// store. The extra racks are copies of the logged-in one under other
// names, written while the agent is stopped, so each sub-benchmark starts
// a fresh agent that loads them all. Run with
//
//	go test -run '^$' -bench AppsRacks -benchtime 40x ./internal/e2e/
func BenchmarkAppsRacks(b *testing.B) {
	e := newEnv(b)
	e.login("prod", admin)
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("racks=%d", n), func(b *testing.B) {
			parent := e.t
			e.t = b // failures belong to the sub-benchmark
			defer func() { e.t = parent }()
			e.stopAgent()
			configureRacks(b, e, n)
			if r := e.mustRun("racks"); strings.Count(r.Out, "\n") < n {
				b.Fatalf("racks lists fewer than %d:\n%s", n, r.Out)
			}
			e.mustRun("apps") // warm
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				lat = append(lat, e.mustRun("apps").Took)
			}
			b.StopTimer()
			b.ReportMetric(ms(median(lat)), "p50-ms")
			b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
		})
	}
}

// configureRacks makes config.json and credentials.json hold n racks: prod
// (as logged in) and n-1 copies named r001…, with the same session.
func configureRacks(b *testing.B, e *env, n int) {
	b.Helper()
	edit := func(name string, f func(m map[string]any)) {
		path := filepath.Join(e.Config, name)
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		f(m)
		if data, err = json.MarshalIndent(m, "", "  "); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	edit("config.json", func(m map[string]any) {
		gw, _ := m["gateways"].(map[string]any)
		if gw == nil || gw["prod"] == nil {
			b.Fatalf("config.json has no prod rack: %v", m)
		}
		for k := range gw {
			if k != "prod" {
				delete(gw, k)
			}
		}
		for i := 1; i < n; i++ {
			gw[fmt.Sprintf("r%03d", i)] = gw["prod"]
		}
		m["current"] = "prod"
	})
	edit("credentials.json", func(m map[string]any) {
		secrets, _ := m["secrets"].(map[string]any)
		key := "prod@" + e.Config
		tok, _ := secrets[key].(string)
		if tok == "" {
			b.Fatalf("credentials.json has no %s", key)
		}
		for k := range secrets {
			if k != key {
				delete(secrets, k)
			}
		}
		for i := 1; i < n; i++ {
			secrets[fmt.Sprintf("r%03d@%s", i, e.Config)] = tok
		}
	})
}

// BenchmarkAppsTerminals measures `rack-gateway apps` (whole CLI process)
// from 1, 10, 50 and 200 terminals at once against one warm agent: each
// terminal runs the command back to back, max(2, 200/N) times, so every
// level has at least 200 samples. On a 2-core machine 200 processes at
// once mostly measure the CPU queue; the p50 and p99 say how fairly the
// agent serves them. Run with
//
//	go test -run '^$' -bench AppsTerminals -benchtime 1x ./internal/e2e/
func BenchmarkAppsTerminals(b *testing.B) {
	e := newEnv(b)
	e.login("prod", admin)
	e.mustRun("apps")
	for _, n := range []int{1, 10, 50, 200} {
		b.Run(fmt.Sprintf("terminals=%d", n), func(b *testing.B) {
			parent := e.t
			e.t = b // failures belong to the sub-benchmark
			defer func() { e.t = parent }()
			per := max(2, 200/n)
			var mu sync.Mutex
			var lat []time.Duration
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				var wg sync.WaitGroup
				for t := 0; t < n; t++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for j := 0; j < per; j++ {
							ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
							r := e.runCmd(e.cmd(ctx, "apps"))
							cancel()
							if r.Code != 0 {
								b.Errorf("apps: %s", r)
								return
							}
							mu.Lock()
							lat = append(lat, r.Took)
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
			}
			b.StopTimer()
			b.ReportMetric(ms(median(lat)), "p50-ms")
			b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
			b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "commands/s")
		})
	}
}
