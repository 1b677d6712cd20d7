// Command rack-gateway-agent is the per-user agent; see package agent.
package main

import (
	"os"

	"github.com/rack-gateway/rack-gateway/agent"
)

func main() { os.Exit(agent.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
