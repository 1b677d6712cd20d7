package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rack-gateway/rack-gateway/internal/buildinfo"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/localapi"
)

// memCommands is how many commands BenchmarkAgentMemory runs.
const memCommands = 10_000

// BenchmarkAgentMemory reads the agent's resident memory (VmRSS in
// /proc/PID/status), open fds (/proc/PID/fd) and goroutines (GET
// /v1/status) idle after a first command, then runs 10,000 commands and
// reads them again once the commands' goroutines are gone, and once more
// after 10,000 more. The commands
// (apps, ps and rack in turn: each a gateway request) go through the local
// API's /v1/run websocket from this process, 8 at a time, exactly as the
// CLI sends them, so 10,000 fit in a few minutes on a loaded machine; the
// CLI's own process start is what BenchmarkAppsCommand measures. Targets:
// idle ≤ 20 MB, after ≤ 25 MB, no growth from the first 10,000 to the second in goroutines or fds. Run with
//
//	go test -run '^$' -bench AgentMemory -benchtime 1x ./internal/e2e/
func BenchmarkAgentMemory(b *testing.B) {
	e := newEnv(b)
	e.login("prod", admin)
	e.mustRun("apps")
	pid := e.agentPID()
	cl := localapi.NewClient(e.socket())
	idle := settle(b, cl, pid)
	var failed atomic.Int64
	batch := func() {
		cmds := [][]string{{"apps"}, {"ps", "-a", "demo"}, {"rack"}}
		work := make(chan []string)
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for argv := range work {
					if err := runViaAPI(cl, e, argv); err != nil {
						if failed.Add(1) == 1 {
							b.Errorf("%v: %v", argv, err)
						}
					}
				}
			}()
		}
		for i := 0; i < memCommands; i++ {
			work <- cmds[i%len(cmds)]
		}
		close(work)
		wg.Wait()
	}
	var after, again agentUsage
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		batch()
		b.StopTimer()
		after = settle(b, cl, pid)
		b.StartTimer()
		// A second round tells a pool from a leak: kept-alive gateway
		// connections (two goroutines and an fd each) stay bounded,
		// a leak grows again.
		batch()
		b.StopTimer()
		again = settle(b, cl, pid)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(idle.rssMB, "idle-rss-MB")
	b.ReportMetric(after.rssMB, "10k-rss-MB")
	b.ReportMetric(again.rssMB, "20k-rss-MB")
	b.ReportMetric(float64(idle.goroutines), "idle-goroutines")
	b.ReportMetric(float64(after.goroutines), "10k-goroutines")
	b.ReportMetric(float64(again.goroutines), "20k-goroutines")
	b.ReportMetric(float64(idle.fds), "idle-fds")
	b.ReportMetric(float64(after.fds), "10k-fds")
	b.ReportMetric(float64(again.fds), "20k-fds")
	b.ReportMetric(float64(failed.Load()), "failed-commands")
	b.ReportMetric(float64(2*memCommands*b.N)/b.Elapsed().Seconds(), "commands/s")
}

type agentUsage struct {
	rssMB      float64
	fds        int
	goroutines int
}

// settle reads the agent's usage once its goroutine count has held still
// for 100 reads (1 s), or after 10 s: commands end their goroutines and
// connections a moment after the exit message. The fd count includes the
// status read's own connection.
func settle(b *testing.B, cl *localapi.Client, pid int) agentUsage {
	b.Helper()
	var u agentUsage
	last, same := -1, 0
	poll(10*time.Second, func() bool {
		u = usage(b, cl, pid)
		if u.goroutines == last {
			same++
		} else {
			last, same = u.goroutines, 0
		}
		return same >= 100
	})
	return u
}

func usage(b *testing.B, cl *localapi.Client, pid int) agentUsage {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := cl.Status(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var u agentUsage
	u.goroutines = st.Goroutines
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			u.rssMB = float64(kb) / 1024
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		b.Fatal(err)
	}
	u.fds = len(fds)
	return u
}

// runViaAPI runs one command through /v1/run as the CLI does: the
// invocation, then messages until the exit message; output is dropped.
func runViaAPI(cl *localapi.Client, e *env, argv []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := cl.Dialer().DialContext(ctx, localapi.WebsocketURL(ipc.PathRun), nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	inv := ipc.Invocation{Argv: argv, Cwd: e.root, Env: ipc.ForwardedEnv(e.environ()), PID: os.Getpid(), Version: buildinfo.Version}
	data, _ := json.Marshal(inv)
	if err := conn.WriteMessage(websocket.TextMessage, data); err != nil {
		return err
	}
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		if typ != websocket.TextMessage {
			continue
		}
		var c ipc.Control
		if json.Unmarshal(msg, &c) != nil || c.Type != ipc.MsgExit {
			continue
		}
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		switch {
		case c.Exit == nil:
			return fmt.Errorf("exit without a status")
		case c.Exit.Error != nil:
			return c.Exit.Error
		case c.Exit.Status != 0:
			return fmt.Errorf("exit %d", c.Exit.Status)
		}
		return nil
	}
}
