// Command wslogs reads one log stream straight from the gateway's rack
// proxy and prints it: the baseline BenchmarkLogsRelay compares
// `rack-gateway logs -f` against, a plain gorilla/websocket client writing
// each message to stdout. The URL (ws://…/api/v1/rack-proxy/apps/X/logs)
// and token come from the environment (WSLOGS_URL, WSLOGS_TOKEN) so the
// token never shows in a process list.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+os.Getenv("WSLOGS_TOKEN"))
	h.Set("Follow", "true")
	h.Set("Prefix", "true")
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 32 << 10}
	conn, resp, err := d.Dial(os.Getenv("WSLOGS_URL"), h)
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%v (HTTP %s)", err, resp.Status)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer conn.Close()
	buf := make([]byte, 32<<10)
	for {
		_, r, err := conn.NextReader()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				return
			}
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if _, err := io.CopyBuffer(os.Stdout, r, buf); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
