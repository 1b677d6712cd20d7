package convoxfake

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocket streams of the rack: logs and exec. Framing is Convox's
// (docs/gateway-protocol.md, "WebSockets through the proxy"): output as
// text messages, a normal close at the end, stdin as text messages with
// an empty binary message for EOF, and the exec exit code behind a marker
// in the output.

// ExecMarker precedes the exit code in exec output.
const ExecMarker = "F1E49A85-0AD7-4AEF-A618-C249C6E6568D:"

var errStreamCut = errors.New("convoxfake: stream cut by DropNextWebSocket")

// upgrade accepts the WebSocket with a fresh Upgrader and Config's origin
// check (see Config.CheckOrigin).
func (rk *Rack) upgrade(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	u := websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096, CheckOrigin: rk.cfg.CheckOrigin}
	conn, err := u.Upgrade(w, r, nil)
	if err != nil {
		return nil, err
	}
	// http.Server's read/write timeouts stay on a hijacked connection;
	// they are cleared so streams may outlive them (60 s in the sandbox
	// binary), as the real gateway does for the streams it relays.
	_ = conn.NetConn().SetDeadline(time.Time{})
	return conn, nil
}

// wsStream writes one stream's messages. With drop set it sends at most
// one message and then cuts the TCP connection: no marker, no close frame.
type wsStream struct {
	conn *websocket.Conn
	drop bool
	sent int
	tty  bool
	in   *wsReader
}

func (st *wsStream) send(text string) error {
	if st.drop && st.sent >= 1 {
		st.cut()
		return errStreamCut
	}
	st.sent++
	return st.conn.WriteMessage(websocket.TextMessage, []byte(text))
}

// cut drops the TCP connection under the WebSocket: the peer sees an
// abnormal end (1006), not a close frame.
func (st *wsStream) cut() { _ = st.conn.NetConn().Close() }

// output sends program output, translating newlines like a pty would.
func (st *wsStream) output(text string) error {
	if st.tty {
		text = strings.ReplaceAll(text, "\n", "\r\n")
	}
	return st.send(text)
}

// closeNormal ends the stream with a normal close and waits (briefly) for
// the peer's reply before dropping the connection.
func (st *wsStream) closeNormal() {
	defer st.conn.Close()
	if st.drop {
		st.cut()
		return
	}
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if st.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)) != nil {
		return
	}
	select {
	case <-st.in.gone:
	case <-time.After(time.Second):
	}
}

// wsReader drains the client side: stdin text (and non-empty binary)
// messages go to stdin, which closes at EOF (empty binary message) or
// disconnect; gone closes once the client has closed or vanished.
// Reading also services pings and the close handshake.
type wsReader struct {
	stdin chan []byte
	gone  chan struct{}
}

func startReader(conn *websocket.Conn) *wsReader {
	rd := &wsReader{stdin: make(chan []byte, 1024), gone: make(chan struct{})}
	go func() {
		defer close(rd.gone)
		eof := false
		closeStdin := func() {
			if !eof {
				eof = true
				close(rd.stdin)
			}
		}
		defer closeStdin()
		for {
			mt, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if eof {
				continue
			}
			if mt == websocket.BinaryMessage && len(data) == 0 {
				closeStdin()
				continue
			}
			select {
			case rd.stdin <- data:
			default: // nobody reads stdin (e.g. echo): drop it
			}
		}
	}()
	return rd
}

// logOpts are the Convox log headers the rack honours.
type logOpts struct {
	follow bool
	since  time.Duration // 0: everything
	filter string
	prefix bool
}

func parseLogOpts(r *http.Request) logOpts {
	o := logOpts{
		follow: strings.EqualFold(r.Header.Get("Follow"), "true"),
		filter: r.Header.Get("Filter"),
		prefix: strings.EqualFold(r.Header.Get("Prefix"), "true"),
	}
	if d, err := time.ParseDuration(r.Header.Get("Since")); err == nil && d > 0 {
		o.since = d
	}
	return o
}

func (o logOpts) render(l logLine) string {
	if o.prefix {
		return l.at.Format(time.RFC3339) + " " + l.source + " " + l.text + "\n"
	}
	return l.text + "\n"
}

// pick applies Since and Filter and orders lines by time.
func (o logOpts) pick(lines []logLine, now time.Time) []string {
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
	out := []string{}
	for _, l := range lines {
		if o.since > 0 && l.at.Before(now.Add(-o.since)) {
			continue
		}
		// Filter sees the source too, so "worker" or a pid selects lines.
		if o.filter == "" || strings.Contains(l.source+" "+l.text, o.filter) {
			out = append(out, o.render(l))
		}
	}
	return out
}

// seededLinesLocked is the "traffic" of app's running service processes
// (only pid's when set), dated just before now so any Since ≥ 1m shows it,
// followed by the app's stored event lines.
func (rk *Rack) seededLinesLocked(app, pid string, now time.Time) []logLine {
	var lines []logLine
	for _, p := range rk.processes {
		if p.App != app || p.oneOff || (pid != "" && p.ID != pid) {
			continue
		}
		for i, text := range []string{"booting " + p.Name, "listening on :3000", "GET /health 200 2ms"} {
			if p.Name == "worker" {
				text = []string{"booting worker", "waiting for jobs", "processed job 1"}[i]
			}
			lines = append(lines, logLine{at: now.Add(time.Duration(i-5) * 10 * time.Second), source: "service/" + p.Name + "/" + p.ID, text: text})
		}
	}
	for _, l := range rk.logs[app] {
		if pid == "" || strings.HasSuffix(l.source, "/"+pid) {
			lines = append(lines, l)
		}
	}
	return lines
}

// streamLogs sends lines, then either closes (no Follow) or keeps sending
// a fresh line from next every Config.FollowInterval until the client leaves.
func (rk *Rack) streamLogs(w http.ResponseWriter, r *http.Request, lines []string, drop bool, follow bool, next func(n int) string) {
	conn, err := rk.upgrade(w, r)
	if err != nil {
		return
	}
	defer conn.Close() // also after a failed write; a second Close is harmless
	st := &wsStream{conn: conn, drop: drop, in: startReader(conn)}
	for _, l := range lines {
		if st.send(l) != nil {
			return
		}
	}
	rk.mu.Lock()
	f, flooded := rk.takeFloodLocked()
	rk.mu.Unlock()
	if flooded {
		if st.flood(f) == nil {
			st.closeNormal()
		}
		return
	}
	if !follow {
		st.closeNormal()
		return
	}
	tick := time.NewTicker(rk.cfg.FollowInterval)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-st.in.gone:
			return
		case <-tick.C:
			if st.send(next(n)) != nil {
				return
			}
		}
	}
}

// appLogs is the /apps/{app}/logs stream.
func (rk *Rack) appLogs(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	rk.serveAppLogs(w, r, vars["app"], "")
}

// processLogs is the /apps/{app}/processes/{pid}/logs stream.
func (rk *Rack) processLogs(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	rk.serveAppLogs(w, r, vars["app"], vars["pid"])
}

func (rk *Rack) serveAppLogs(w http.ResponseWriter, r *http.Request, app, pid string) {
	o := parseLogOpts(r)
	rk.mu.Lock()
	if rk.appOr404(w, app) == nil || (pid != "" && rk.processOr404(w, app, pid) == nil) {
		rk.mu.Unlock()
		return
	}
	now := rk.now().UTC()
	lines := o.pick(rk.seededLinesLocked(app, pid, now), now)
	source := "service/web/" + firstNonEmpty(pid, SeedWebPID)
	if pid == "" {
		for _, p := range rk.processes {
			if p.App == app && !p.oneOff {
				source = "service/" + p.Name + "/" + p.ID
				break
			}
		}
	}
	drop := rk.takeDropLocked()
	rk.mu.Unlock()
	rk.streamLogs(w, r, lines, drop, o.follow, func(n int) string {
		return o.render(logLine{at: rk.now().UTC(), source: source, text: fmt.Sprintf("GET /health 200 1ms (follow %d)", n)})
	})
}

// buildLogs is /apps/{app}/builds/{id}/logs: the build output, then
// a close. Streaming it to the end completes a running build.
func (rk *Rack) buildLogs(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	rk.mu.Lock()
	if rk.appOr404(w, vars["app"]) == nil {
		rk.mu.Unlock()
		return
	}
	b := rk.buildOr404(w, vars["app"], vars["id"])
	if b == nil {
		rk.mu.Unlock()
		return
	}
	var lines []string
	for _, l := range b.output {
		lines = append(lines, l+"\n")
	}
	drop := rk.takeDropLocked()
	rk.mu.Unlock()
	conn, err := rk.upgrade(w, r)
	if err != nil {
		return
	}
	defer conn.Close()
	st := &wsStream{conn: conn, drop: drop, in: startReader(conn)}
	for _, l := range lines {
		if st.send(l) != nil {
			return
		}
	}
	if !drop {
		rk.mu.Lock()
		done := rk.completeBuildLocked(b)
		rk.mu.Unlock()
		rk.report(done)
	}
	st.closeNormal()
}

// systemLogs is the /system/logs stream: the rack's own lines.
func (rk *Rack) systemLogs(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	o := parseLogOpts(r)
	rk.mu.Lock()
	now := rk.now().UTC()
	lines := []logLine{
		{at: now.Add(-50 * time.Second), source: "system/k8s", text: "rack " + Name + " running " + rk.system.Version},
	}
	for i, inst := range rk.instances {
		lines = append(lines, logLine{at: now.Add(time.Duration(i-4) * 10 * time.Second), source: "system/k8s", text: "instance " + inst.ID + " healthy"})
	}
	picked := o.pick(append(lines, rk.logs[""]...), now)
	drop := rk.takeDropLocked()
	rk.mu.Unlock()
	rk.streamLogs(w, r, picked, drop, o.follow, func(n int) string {
		return o.render(logLine{at: rk.now().UTC(), source: "system/k8s", text: fmt.Sprintf("heartbeat %d", n)})
	})
}
