// Command rack-gateway is the thin CLI; see package cli.
package main

import (
	"os"

	"github.com/rack-gateway/rack-gateway/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], cli.OSStreams())) }
