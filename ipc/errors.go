package ipc

import (
	"errors"
	"fmt"
)

// Machine-readable error codes that cross the wire between the agent and its
// clients. Editors and scripts switch on these, never on message text.
const (
	CodeUsage              = "usage"               // bad command line
	CodeNotLoggedIn        = "not_logged_in"       // no session for the rack
	CodeSessionExpired     = "session_expired"     // the session is gone or expired
	CodeStepUpRequired     = "stepup_required"     // MFA needed but nobody can be asked
	CodeNoAuthenticator    = "no_authenticator"    // no security key is present
	CodeMFAFailed          = "mfa_failed"          // a proof was refused
	CodeMFALocked          = "mfa_attempts_guard"  // the agent refuses to risk a lockout
	CodeForbidden          = "forbidden"           // the gateway said no (RBAC)
	CodeNotFound           = "not_found"           // no such thing
	CodeGatewayUnreachable = "gateway_unreachable" // network failure talking to the gateway
	CodeGateway            = "gateway_error"       // the gateway answered with an error
	CodeAgentUnavailable   = "agent_unavailable"   // the CLI cannot reach or start the agent
	CodeAgentRunning       = "agent_running"       // another agent owns the socket
	CodeInterrupted        = "interrupted"         // Ctrl-C or the client went away
	CodeBadRequest         = "bad_request"         // malformed local API request
	CodeKeyring            = "keyring_unavailable" // the OS keyring is there but does not answer
	CodeService            = "service_error"       // the OS service manager failed or is missing
	CodeSecretStore        = "secret_store"        // the keyring or credentials file failed
	CodeConfig             = "config"              // config.json cannot be read or written
	CodeInternal           = "internal"            // a bug
)

// Error is a typed error that crosses the wire. Message is for humans; Hint,
// when set, says what to do next.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// cause is the error this one describes, for errors.Is and errors.As
	// in the process that made it. It never crosses the wire: only the
	// words and the code do.
	cause error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// Wrap builds an *Error with a formatted message that keeps cause.
func Wrap(code string, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), cause: cause}
}

// Errorf builds an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Interrupted is the error of a command cut short by Ctrl-C or by its
// client going away; msg says what was interrupted.
func Interrupted(msg string) *Error {
	return &Error{Code: CodeInterrupted, Message: msg}
}

// WithHint returns a copy of e with a hint attached.
func (e *Error) WithHint(format string, args ...any) *Error {
	c := *e
	c.Hint = fmt.Sprintf(format, args...)
	return &c
}

// AsError converts any error into an *Error, keeping typed ones as they are.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: err.Error()}
}

// Exit statuses. This table is the only place an error code becomes a
// process exit status; both programs' Main functions use it.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitStepUp      = 4
	ExitAuth        = 5
	ExitUnavailable = 6
	ExitInterrupted = 130
)

// ExitStatus maps an error code to the process exit status.
func ExitStatus(code string) int {
	switch code {
	case "":
		return ExitOK
	case CodeUsage, CodeBadRequest:
		return ExitUsage
	case CodeStepUpRequired:
		return ExitStepUp
	case CodeNotLoggedIn, CodeSessionExpired:
		return ExitAuth
	case CodeAgentUnavailable, CodeAgentRunning:
		return ExitUnavailable
	case CodeInterrupted:
		return ExitInterrupted
	default:
		return ExitError
	}
}

// Render formats e the way both programs print a failed command on stderr:
// "Error: <message>", then the hint on its own line.
func (e *Error) Render() string {
	s := "Error: " + e.Message + "\n"
	if e.Hint != "" {
		s += e.Hint + "\n"
	}
	return s
}
