package ipc

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The agent's local API is HTTP+JSON over the socket, at the fixed host
// "agent", under /v1/. These constants and types are that API's wire format;
// the CLI and editor plugins share them with the agent.
const (
	// Host is the HTTP host clients use on the socket.
	Host = "agent"
	// Capability is bumped whenever the /v1 API gains something a client may
	// want to detect. It is sent in every response. 2 added the version
	// handshake, Capabilities and argv_b64.
	Capability = 2
	// HeaderVersion carries the agent's build version on every response,
	// the websocket upgrades included.
	HeaderVersion = "Rack-Gateway-Agent-Version"
	// HeaderCapability carries Capability on every response.
	HeaderCapability = "Rack-Gateway-Capability"
	// HeaderCapabilities lists the agent's named capabilities
	// (Capabilities), comma-separated, on every response.
	HeaderCapabilities = "Rack-Gateway-Capabilities"
	// HeaderRunning, on the upgrade of /v1/run, is the number of commands
	// the agent is running: a newer CLI restarts an older agent only when
	// it is 0.
	HeaderRunning = "Rack-Gateway-Running"
	// HeaderCLIVersion and HeaderCLICapability are the client's build
	// version and Capability, sent on the upgrade of /v1/run.
	HeaderCLIVersion    = "Rack-Gateway-CLI-Version"
	HeaderCLICapability = "Rack-Gateway-CLI-Capability"

	PathRun      = "/v1/run"
	PathStatus   = "/v1/status"
	PathShutdown = "/v1/shutdown"
	PathEvents   = "/v1/events"
	PathPrompts  = "/v1/prompts/" // + prompt id
)

// Named capabilities an agent may have (HeaderCapabilities).
const (
	// CapArgvBytes: the agent reads Invocation.ArgvB64.
	CapArgvBytes = "argv_b64"
	// CapRunning: the agent sends HeaderRunning.
	CapRunning = "running"
	// CapPromptWithdrawn: the agent publishes prompt_withdrawn when a
	// prompt ends unanswered, and names a prompt's terminal (tty), so an
	// editor can drop a question nobody waits on and say who asks.
	CapPromptWithdrawn = "prompt_withdrawn"
)

// Capabilities are this build's named capabilities.
var Capabilities = []string{CapArgvBytes, CapRunning, CapPromptWithdrawn, CapInvocationHeader}

// Read limits on /v1/run, the same on both sides so that the CLI can refuse
// what the agent would (docs/local-api.md, "Limits and timeouts").
const (
	// MaxInvocation bounds the invocation message: argv and the forwarded
	// environment, JSON-encoded.
	MaxInvocation = 1 << 20
	// MaxMessage bounds every later client message: a stdin frame, a
	// control message, an edited file coming back.
	MaxMessage = 1 << 20
)

// InvocationTooLong is the error for an invocation over MaxInvocation.
// size is its encoded length in bytes.
func InvocationTooLong(size int) *Error {
	return Errorf(CodeUsage, "the command line is too long: %s with the forwarded environment, over the agent's limit of %s",
		FormatBytes(size), FormatBytes(MaxInvocation)).
		WithHint("Pass long values in a file or on stdin instead of as arguments.")
}

// FormatBytes writes a byte count for people: "512 bytes", "1.3 MiB".
func FormatBytes(n int) string {
	unit := func(v float64, name string) string {
		return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0") + " " + name
	}
	switch {
	case n < 1<<10:
		return strconv.Itoa(n) + " bytes"
	case n < 1<<20:
		return unit(float64(n)/(1<<10), "KiB")
	default:
		return unit(float64(n)/(1<<20), "MiB")
	}
}

// Invocation is the first message a client sends on /v1/run: one command
// line, with enough of its surroundings for the agent to act as if it ran in
// the user's terminal.
type Invocation struct {
	// Argv is the command line after the program name. JSON strings
	// cannot carry bytes that are not UTF-8, so when any argument has
	// such bytes ArgvB64 carries all of them, base64-encoded; Argv then
	// has as many entries, equal wherever an argument is valid text (see
	// ArgvBytes).
	Argv    []string          `json:"argv"`
	ArgvB64 []string          `json:"argv_b64,omitempty"`
	Cwd     string            `json:"cwd"`
	Env     map[string]string `json:"env"`
	TTY     TTYState          `json:"tty"`
	Size    *WinSize          `json:"size,omitempty"`
	PID     int               `json:"pid"`
	Version string            `json:"version"`
	// TTYName is the controlling terminal's name (/dev/pts/3), shown to
	// other terminals that wait on a prompt this one answers.
	TTYName string `json:"tty_name,omitempty"`
	// CanPrompt is false when nobody can answer a prompt (stdin is not a
	// terminal, or RACK_GATEWAY_NONINTERACTIVE=1).
	CanPrompt bool `json:"can_prompt"`
}

// SetArgv sets Argv, and ArgvB64 when an argument is not valid UTF-8 and
// exact is true (the agent reads it: CapArgvBytes).
func (inv *Invocation) SetArgv(argv []string, exact bool) {
	inv.Argv, inv.ArgvB64 = argv, nil
	if !exact || CheckText(argv) == nil {
		return
	}
	inv.ArgvB64 = make([]string, len(argv))
	for i, a := range argv {
		inv.ArgvB64[i] = base64.StdEncoding.EncodeToString([]byte(a))
	}
}

// ArgvBytes replaces Argv with the exact arguments from ArgvB64, when the
// client sent them. The two must be the same command line: an argument
// that is valid text reads the same in both, so a client that filled only
// one of them (an empty argv_b64 beside a real argv) is refused rather
// than run as some other command.
func (inv *Invocation) ArgvBytes() error {
	if inv.ArgvB64 == nil {
		return nil
	}
	if len(inv.ArgvB64) != len(inv.Argv) {
		return Errorf(CodeBadRequest, "argv_b64 has %d arguments and argv %d: they must carry the same command line", len(inv.ArgvB64), len(inv.Argv))
	}
	argv := make([]string, len(inv.ArgvB64))
	for i, a := range inv.ArgvB64 {
		b, err := base64.StdEncoding.DecodeString(a)
		if err != nil {
			return Errorf(CodeBadRequest, "argv_b64[%d] is not base64: %v", i, err)
		}
		argv[i] = string(b)
		if utf8.Valid(b) && argv[i] != inv.Argv[i] {
			return Errorf(CodeBadRequest, "argv_b64[%d] and argv[%d] differ: they must carry the same command line", i, i)
		}
	}
	inv.Argv, inv.ArgvB64 = argv, nil
	return nil
}

// CheckText refuses arguments that are not valid UTF-8, naming the first
// one (counted from 1, after the program name). Everything the gateway
// carries is text (JSON, and form fields it keeps as text), so such bytes
// could only reach it changed; they are refused instead. The message
// shows where, never the argument itself: it may be a secret.
func CheckText(argv []string) *Error {
	for i, a := range argv {
		if utf8.ValidString(a) {
			continue
		}
		off := 0
		for off < len(a) {
			r, n := utf8.DecodeRuneInString(a[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return Errorf(CodeUsage, "argument %d is not valid UTF-8 (byte 0x%02x at offset %d): the gateway's API carries text, so it cannot be sent unchanged",
			i+1, a[off], off).
			WithHint("Give the value as UTF-8 text; for binary data, encode it first (base64, for example).")
	}
	return nil
}

// TTYState says which standard streams are terminals.
type TTYState struct {
	Stdin  bool `json:"stdin"`
	Stdout bool `json:"stdout"`
	Stderr bool `json:"stderr"`
}

// WinSize is a terminal size in cells.
type WinSize struct {
	Cols int `json:"cols"`
	Rows int `json:"rows"`
}

// Stream frames travel as binary websocket messages: one Channel byte, then
// the payload. An empty payload on ChanStdin means stdin reached EOF.
type Channel byte

// The stream channels.
const (
	ChanStdin  Channel = 0
	ChanStdout Channel = 1
	ChanStderr Channel = 2
)

// Control message types, sent as JSON text websocket messages.
const (
	MsgResize       = "resize"        // client → agent: Size
	MsgInterrupt    = "interrupt"     // client → agent: Ctrl-C
	MsgStdinWanted  = "stdin"         // agent → client: start relaying stdin
	MsgPrompt       = "prompt"        // agent → client: Prompt
	MsgAnswer       = "answer"        // client → agent: Answer
	MsgPromptDone   = "prompt_done"   // agent → client: Answer{ID}: stop asking
	MsgAction       = "action"        // agent → client: Action
	MsgActionResult = "action_result" // client → agent: ActionResult
	MsgExit         = "exit"          // agent → client: Exit, then close
	// MsgRaw switches the client's terminal to raw mode (Raw true) for an
	// interactive remote session, and back (Raw false). In raw mode
	// keystrokes, Ctrl-C included, are stdin bytes for the remote side.
	MsgRaw = "raw" // agent → client: Raw
)

// Control is a JSON control message on /v1/run. Exactly one of the pointer
// fields is set, matching Type.
type Control struct {
	Type         string        `json:"type"`
	Size         *WinSize      `json:"size,omitempty"`
	Prompt       *Prompt       `json:"prompt,omitempty"`
	Answer       *Answer       `json:"answer,omitempty"`
	Action       *Action       `json:"action,omitempty"`
	ActionResult *ActionResult `json:"action_result,omitempty"`
	Exit         *Exit         `json:"exit,omitempty"`
	Raw          *bool         `json:"raw,omitempty"`
}

// Prompt asks the user for input. Secret input is read without echo from the
// controlling terminal.
type Prompt struct {
	ID      string `json:"id"`
	Text    string `json:"text"`
	Secret  bool   `json:"secret"`
	Rack    string `json:"rack,omitempty"`
	Command string `json:"command,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Answer replies to a Prompt. Error is set when the client could not ask
// (no terminal, EOF, Ctrl-C).
type Answer struct {
	ID    string `json:"id"`
	Value string `json:"value,omitempty"`
	Error string `json:"error,omitempty"`
}

// Action kinds the agent may ask the client to perform in the user's session.
const (
	ActionOpenURL  = "open_url"
	ActionEditFile = "edit_file"
)

// Action asks the client to do something only it can do, because it runs in
// the user's desktop session and terminal.
type Action struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	URL     string `json:"url,omitempty"`
	Content []byte `json:"content,omitempty"`
}

// ActionResult reports how an Action went.
type ActionResult struct {
	ID      string `json:"id"`
	Error   string `json:"error,omitempty"`
	Content []byte `json:"content,omitempty"`
}

// Exit ends a run: Status is the process exit status; Error, when set, is
// printed by the client as "Error: <message>" and decides the status.
type Exit struct {
	Status int    `json:"status"`
	Error  *Error `json:"error,omitempty"`
}

// ErrorBody is the JSON body of every non-2xx local API response.
type ErrorBody struct {
	Error *Error `json:"error"`
}

// Status is the body of GET /v1/status.
type Status struct {
	Version     string       `json:"version"`
	Capability  int          `json:"capability"`
	PID         int          `json:"pid"`
	StartedAt   time.Time    `json:"started_at"`
	Socket      string       `json:"socket"`
	SecretStore string       `json:"secret_store"`
	Racks       []RackStatus `json:"racks"`
	// Prompts are all pending prompts, including any not tied to a rack.
	Prompts []PromptStatus `json:"prompts"`
	// LogError and AuditError say why the agent log or the audit log is
	// not being written ("<path>: no space left on device"); empty while
	// the last write succeeded.
	LogError   string `json:"log_error,omitempty"`
	AuditError string `json:"audit_error,omitempty"`
	// Goroutines is the agent's goroutine count: a leak shows as growth
	// between two reads with no command running (docs/performance.md).
	Goroutines int `json:"goroutines"`
}

// WindowStatus is a rack's step-up window as the agent knows it.
type WindowStatus struct {
	Active     bool       `json:"active"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RemainingS int        `json:"remaining_s"`
}

// PromptStatus is a question a command is waiting on; answer it with
// POST /v1/prompts/{id} and {"value": "..."}.
type PromptStatus struct {
	ID        string    `json:"id"`
	Rack      string    `json:"rack,omitempty"`
	Command   string    `json:"command,omitempty"`
	Text      string    `json:"text"`
	Secret    bool      `json:"secret"`
	Reason    string    `json:"reason,omitempty"`
	PID       int       `json:"pid,omitempty"`
	TTY       string    `json:"tty,omitempty"` // the waiting command's terminal (/dev/pts/3)
	CreatedAt time.Time `json:"created_at"`
}

// PromptAnswer is the body of POST /v1/prompts/{id}.
type PromptAnswer struct {
	Value *string `json:"value"`
}

// RackStatus describes one configured rack.
type RackStatus struct {
	Name      string     `json:"name"`
	URL       string     `json:"url"`
	Current   bool       `json:"current"`
	ConfigDir string     `json:"config_dir"`
	LoggedIn  bool       `json:"logged_in"`
	Email     string     `json:"email,omitempty"`
	Role      string     `json:"role,omitempty"`
	ExpiresAt *time.Time `json:"session_expires_at,omitempty"`
	// Window is the step-up window; Prompts the rack's pending prompts.
	Window  WindowStatus   `json:"window"`
	Prompts []PromptStatus `json:"pending_prompts"`
}

// MarshalControl encodes a control message; it cannot fail for these types.
func MarshalControl(c *Control) []byte {
	b, _ := json.Marshal(c)
	return b
}

// forwardedEnv lists the variables a client passes to the agent: the
// product's own, and what a command needs to behave as if it ran in the
// user's terminal (docs/architecture.md, "A command's path").
var forwardedEnv = map[string]bool{
	"TERM": true, "COLORTERM": true, "NO_COLOR": true, "EDITOR": true, "VISUAL": true,
	"BROWSER": true, "DISPLAY": true, "WAYLAND_DISPLAY": true, "XAUTHORITY": true,
	"DBUS_SESSION_BUS_ADDRESS": true, "GATEWAY_CLI_CONFIG_DIR": true, "CONVOX_APP": true,
	"LANG": true, "LC_ALL": true, "TZ": true, "SSH_CONNECTION": true,
}

// ForwardedEnv picks the variables to forward from an environ list.
func ForwardedEnv(environ []string) map[string]string {
	out := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if forwardedEnv[k] || strings.HasPrefix(k, "RACK_GATEWAY_") {
			out[k] = v
		}
	}
	return out
}

// Event is one message of GET /v1/events (see docs/local-api.md).
type Event struct {
	Seq        uint64     `json:"seq"`
	Time       time.Time  `json:"time"`
	Type       string     `json:"type"`
	Rack       string     `json:"rack,omitempty"`
	ConfigDir  string     `json:"config_dir,omitempty"`
	Email      string     `json:"email,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	Method     string     `json:"method,omitempty"`
	PromptID   string     `json:"prompt_id,omitempty"`
	Command    string     `json:"command,omitempty"`
	PID        int        `json:"pid,omitempty"`
	Exit       *int       `json:"exit,omitempty"`
	AnsweredBy string     `json:"answered_by,omitempty"`
	TTY        string     `json:"tty,omitempty"` // the terminal of a prompt_pending or prompt_withdrawn
}
