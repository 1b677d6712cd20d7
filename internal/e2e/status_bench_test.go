package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/ipc/localapi"
)

// BenchmarkStatusAPI drives GET /v1/status from 50 concurrent clients at a
// combined 1,000 requests/s for 2 s per iteration against a warm agent with
// a logged-in rack, and reports latency percentiles. Target: p99 ≤ 2 ms.
func BenchmarkStatusAPI(b *testing.B) {
	e := newEnv(b)
	e.login("prod", admin)
	const clients, rate, perIter = 50, 1000, 2000
	cl := make([]*localapi.Client, clients)
	for i := range cl {
		cl[i] = localapi.NewClient(e.socket())
		if _, err := cl[i].Status(context.Background()); err != nil { // warm the connection
			b.Fatal(err)
		}
	}
	var lat []time.Duration
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		var mu sync.Mutex
		var wg sync.WaitGroup
		interval := time.Second * clients / rate // each client's pace
		for i := 0; i < clients; i++ {
			wg.Add(1)
			go func(c *localapi.Client, offset time.Duration) {
				defer wg.Done()
				time.Sleep(offset)
				tick := time.NewTicker(interval)
				defer tick.Stop()
				for n := 0; n < perIter/clients; n++ {
					<-tick.C
					start := time.Now()
					if _, err := c.Status(context.Background()); err != nil {
						b.Error(err)
						return
					}
					d := time.Since(start)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			}(cl[i], interval*time.Duration(i)/clients)
		}
		wg.Wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(ms(percentile(lat, 0.5)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
}
