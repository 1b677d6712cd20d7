package ipc

import (
	"encoding/base64"
	"encoding/json"
)

// The invocation may ride on the upgrade request of /v1/run
// (docs/local-api.md, "POST /v1/run"): the CLI sends it, encoded, in
// HeaderInvocation, and an agent that takes it from there answers the 101
// with HeaderInvocation: InvocationTaken and starts the command at once,
// without waiting for it as the first message. That saves a wake-up on
// each side of every command. An agent that does not say InvocationTaken
// (an older one, or one that wants the CLI's version handshake first)
// reads the first message as ever, and the CLI sends it there.
const (
	// HeaderInvocation carries the invocation on the upgrade request,
	// and InvocationTaken on the 101 of an agent that took it.
	HeaderInvocation = "Rack-Gateway-Invocation"
	// InvocationTaken is the agent's answer in HeaderInvocation.
	InvocationTaken = "taken"
	// CapInvocationHeader: the agent reads HeaderInvocation.
	CapInvocationHeader = "invocation_header"
	// MaxInvocationHeader bounds the encoded header value, well under
	// the agent's limit on a request's headers; a longer invocation goes
	// as the first message.
	MaxInvocationHeader = 16 << 10
)

// EncodeInvocationHeader returns the HeaderInvocation value for an
// invocation encoded as JSON, and false when it is too long for a header.
func EncodeInvocationHeader(invJSON []byte) (string, bool) {
	if base64.RawURLEncoding.EncodedLen(len(invJSON)) > MaxInvocationHeader {
		return "", false
	}
	return base64.RawURLEncoding.EncodeToString(invJSON), true
}

// DecodeInvocationHeader reads a HeaderInvocation value, with the checks
// the first message gets (ArgvBytes included).
func DecodeInvocationHeader(v string) (*Invocation, error) {
	if len(v) > MaxInvocationHeader {
		return nil, Errorf(CodeBadRequest, "the invocation header is %s, over %s", FormatBytes(len(v)), FormatBytes(MaxInvocationHeader))
	}
	data, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, Errorf(CodeBadRequest, "the invocation header is not base64url: %v", err)
	}
	var inv Invocation
	if err := json.Unmarshal(data, &inv); err != nil {
		return nil, Errorf(CodeBadRequest, "the invocation header is not valid JSON: %v", err)
	}
	if err := inv.ArgvBytes(); err != nil {
		return nil, err
	}
	return &inv, nil
}
