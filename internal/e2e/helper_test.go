package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// helperMain is this test binary re-executed as another process (for
// example as the 'nobody' user). E2E_HELPER says what to do.
func helperMain() int {
	switch os.Getenv("E2E_HELPER") {
	case "refusal-loop":
		return refusalLoop() // hardening_socket_test.go
	case "dial-status":
		// Talk to the agent's socket directly, as a local process of
		// another user would, and print what came back.
		c, err := net.DialTimeout("unix", os.Getenv("E2E_SOCKET"), 2*time.Second)
		if err != nil {
			fmt.Printf("dial error: %v\n", err)
			return 3
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET /v1/status HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			fmt.Printf("read error: %v\n", err)
			return 4
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("status %d\n%s\n", resp.StatusCode, strings.TrimSpace(string(body)))
		return 0
	}
	return 2
}
