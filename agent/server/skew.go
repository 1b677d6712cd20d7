package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/buildinfo"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// The version handshake (docs/local-api.md, "Versions and capabilities"):
// every response says which agent answered and what it can do; the
// upgrade of /v1/run also says how many commands it is running, so that a
// newer CLI knows whether it may restart it.

// setAgentHeaders adds the headers every response carries.
func (s *Server) setAgentHeaders(h http.Header) {
	h.Set(ipc.HeaderVersion, s.Core.Version)
	h.Set(ipc.HeaderCapability, strconv.Itoa(ipc.Capability))
	h.Set(ipc.HeaderCapabilities, strings.Join(ipc.Capabilities, ","))
}

// upgradeHeader is the response header of a /v1/run upgrade. The
// upgrader writes its own response, so the guard's headers are not on it.
func (s *Server) upgradeHeader() http.Header {
	h := http.Header{}
	s.setAgentHeaders(h)
	h.Set(ipc.HeaderRunning, strconv.Itoa(int(s.active.Load())))
	return h
}

// cliOlder returns the line that tells the user to update an older CLI,
// or "". An old CLI knows nothing of the handshake, so the agent is the
// one that can say it, on the command's stderr. Versions that cannot be
// ordered (development builds) are compared by capability when the CLI
// sent one.
func (s *Server) cliOlder(r *http.Request, inv *ipc.Invocation) string {
	cli := r.Header.Get(ipc.HeaderCLIVersion)
	if cli == "" {
		cli = inv.Version
	}
	older := false
	if cmp, ok := buildinfo.Compare(cli, s.Core.Version); ok {
		older = cmp < 0
	} else if c, err := strconv.Atoi(r.Header.Get(ipc.HeaderCLICapability)); err == nil {
		older = c < ipc.Capability
	}
	if !older {
		return ""
	}
	name := cli
	if name == "" {
		name = "unknown version"
	}
	return "rack-gateway: this CLI (" + name + ") is older than the agent (" + s.Core.Version +
		"); update the rack-gateway CLI to match.\n"
}
