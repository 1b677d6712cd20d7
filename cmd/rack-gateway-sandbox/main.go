// Command rack-gateway-sandbox runs the in-process fake rack-gateway server
// used by end-to-end tests and `make demo`. See sandbox.Main for the command
// line and output contract.
package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/rack-gateway/rack-gateway/internal/sandbox"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	os.Exit(sandbox.Main(os.Args[1:], os.Stdout, os.Stderr, stop))
}
