// Package faultproxy is a fault-injecting HTTP/1.1 proxy for tests. It sits
// between a client (the agent) and a server (the sandbox), passes every
// request through unchanged, and for the requests a test arms a fault for,
// does what a broken network or a load balancer in front of a gateway
// does: reset the connection, answer 5xx or 429 itself, hold the request
// without answering, cut an answer's body short, or drop a websocket in
// the middle of its stream.
//
// Unlike the sandbox's own faults, these happen on the wire: the client
// sees a real TCP reset, a real half-sent body, a real connection that
// stays silent. The proxy also records every request it sees (method,
// path, headers and body), so a test can count how often a secret, such
// as an MFA code, went over the wire.
//
// It speaks plain HTTP/1.1 only (no TLS, no HTTP/2), which is what the
// agent speaks to an http:// gateway.
package faultproxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Kind is what a fault does to the request it matches.
type Kind string

// The faults.
const (
	// Reset resets the client's connection (TCP RST) once the request
	// has arrived.
	Reset Kind = "reset"
	// Status answers Status, Header and Body made up by the proxy, as a
	// load balancer does (502, 503, 429 with Retry-After).
	Status Kind = "status"
	// Stall holds the request and never answers; the connection stays
	// open until the client gives up or the proxy closes.
	Stall Kind = "stall"
	// Truncate sends the server's answer with only the first half of its
	// body, then closes the connection.
	Truncate Kind = "truncate"
	// CutStream relays a websocket (or any upgraded connection) until
	// AfterBytes bytes have come from the server, then resets both sides.
	CutStream Kind = "cut-stream"
)

// Fault is one armed fault.
type Fault struct {
	Kind Kind
	// Method matches the request method; "" matches any.
	Method string
	// Path matches the URL path exactly, or as a prefix when it ends in
	// "*". The query is ignored.
	Path string
	// Count is how many matching requests the fault takes; 0 means 1,
	// a negative count means every one until Clear.
	Count int
	// Forward sends the request to the server first, so everything it
	// does happens, and only then resets or answers (Reset, Status,
	// Stall): the case a client cannot tell from a request that never
	// arrived. Truncate and CutStream always forward.
	Forward bool
	// Status, Header and Body are the answer of a Status fault.
	Status int
	Header http.Header
	Body   string
	// KeepLength (Truncate) keeps the declared Content-Length, so the
	// client sees the connection end inside the body. Otherwise the cut
	// body is declared whole: valid HTTP carrying JSON that ends early.
	KeepLength bool
	// AfterBytes (CutStream) is how many bytes from the server are
	// relayed after the 101 answer before the cut.
	AfterBytes int
}

// Request is one request the proxy received.
type Request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
	// Fault is the kind of fault that took the request; "" when it was
	// passed through.
	Fault Kind
}

// Proxy is a running fault proxy.
type Proxy struct {
	// URL is the proxy's base URL, to use in place of the server's.
	URL string

	upstream string // host:port
	ln       net.Listener

	mu     sync.Mutex
	faults []*Fault
	seen   []Request
	conns  map[net.Conn]struct{}
	// streams are the upgraded connections being relayed: client side
	// to server side, for CutStreams.
	streams map[net.Conn]net.Conn
	held    int
	closed  bool
	wg      sync.WaitGroup
}

// Start listens on a loopback port and proxies to upstream, a base URL
// such as http://127.0.0.1:8080.
func Start(upstream string) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: upstream must be an http:// URL, got %q", upstream)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), upstream: u.Host, ln: ln, conns: map[net.Conn]struct{}{}, streams: map[net.Conn]net.Conn{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Arm adds f behind the faults armed before it: a request takes the
// oldest armed fault that matches it.
func (p *Proxy) Arm(f Fault) {
	if f.Count == 0 {
		f.Count = 1
	}
	f.Method = strings.ToUpper(f.Method)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, &f)
}

// Clear disarms every fault.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

// Armed reports how many faults are still armed.
func (p *Proxy) Armed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.faults)
}

// Held reports how many requests a Stall fault holds right now: a test
// polls it to know a request is in flight.
func (p *Proxy) Held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

// Requests returns every request received so far, oldest first.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.seen...)
}

// Sent counts the requests that carried secret anywhere: in a header
// value or in the body. It is how a test proves a code crossed the wire
// once.
func (p *Proxy) Sent(secret string) int {
	n := 0
	for _, r := range p.Requests() {
		if strings.Contains(string(r.Body), secret) {
			n++
			continue
		}
		for _, vs := range r.Header {
			if hasValue(vs, secret) {
				n++
				break
			}
		}
	}
	return n
}

func hasValue(vs []string, s string) bool {
	for _, v := range vs {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// Streams reports how many upgraded connections (websockets) the proxy is
// relaying right now.
func (p *Proxy) Streams() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.streams)
}

// CutStreams resets every upgraded connection being relayed, both the
// client's side and the server's, as a network that drops mid-stream
// does, and returns how many it cut. A test calls it once the stream has
// shown what it waits for.
func (p *Proxy) CutStreams() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c, up := range p.streams {
		reset(c)
		reset(up)
	}
	return len(p.streams)
}

// Close stops the proxy: the listener, every connection (releasing held
// requests) and every goroutine, which it waits for.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// track registers c so Close can end it; false when the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			defer c.Close()
			p.serve(c)
		}()
	}
}

// take records r and uses up one request of the oldest fault matching it.
// A CutStream fault is not taken here but by takeStream, once the server
// has accepted the upgrade: a refused upgrade (a 401 asking for MFA, say)
// has no stream to cut. seen is the index of r's record.
func (p *Proxy) take(r *http.Request, body []byte) (f *Fault, seen int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	return p.takeLocked(r, len(p.seen)-1, false), len(p.seen) - 1
}

// takeStream uses up one CutStream fault matching the upgraded r.
func (p *Proxy) takeStream(r *http.Request, seen int) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.takeLocked(r, seen, true)
}

func (p *Proxy) takeLocked(r *http.Request, seen int, stream bool) *Fault {
	for i, f := range p.faults {
		if (f.Kind == CutStream) != stream || !f.matches(r) {
			continue
		}
		taken := *f
		if f.Count > 0 {
			if f.Count--; f.Count == 0 {
				p.faults = append(p.faults[:i], p.faults[i+1:]...)
			}
		}
		p.seen[seen].Fault = f.Kind
		return &taken
	}
	return nil
}

func (f *Fault) matches(r *http.Request) bool {
	if f.Method != "" && f.Method != r.Method {
		return false
	}
	if prefix, ok := strings.CutSuffix(f.Path, "*"); ok {
		return strings.HasPrefix(r.URL.Path, prefix)
	}
	return f.Path == r.URL.Path
}

// serve reads requests from one client connection until it closes or a
// fault ends it.
func (p *Proxy) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		f, seen := p.take(req, body)
		if !p.handle(c, br, req, body, f, seen) || req.Close {
			return
		}
	}
}

// handle answers one request as f says (nil: pass through) and reports
// whether the client connection may carry another request.
func (p *Proxy) handle(c net.Conn, br *bufio.Reader, req *http.Request, body []byte, f *Fault, seen int) bool {
	if f == nil {
		return p.pass(c, br, req, body, seen)
	}
	switch f.Kind {
	case Reset, Status, Stall:
		if f.Forward {
			up, resp, err := p.forward(req, body)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = up.Close()
			}
		}
	}
	switch f.Kind {
	case Reset:
		reset(c)
		return false
	case Status:
		if err := writeStatus(c, f); err != nil {
			return false
		}
		return true
	case Stall:
		p.stall(c, br)
		return false
	case Truncate:
		p.truncate(c, req, body, f)
		return false
	}
	return false
}

func writeStatus(c net.Conn, f *Fault) error {
	h := f.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "text/html")
	}
	return writeResponse(c, f.Status, h, []byte(f.Body), len(f.Body))
}

// stall holds the request until the client closes its connection (a read
// returns) or the proxy closes it.
func (p *Proxy) stall(c net.Conn, br *bufio.Reader) {
	p.mu.Lock()
	p.held++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.held--
		p.mu.Unlock()
	}()
	_, _ = io.Copy(io.Discard, br)
}

// truncate forwards req and sends the answer with half its body.
func (p *Proxy) truncate(c net.Conn, req *http.Request, body []byte, f *Fault) {
	up, resp, err := p.forward(req, body)
	if err != nil {
		reset(c)
		return
	}
	defer up.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		reset(c)
		return
	}
	cut := data[:len(data)/2]
	declared := len(cut)
	if f.KeepLength {
		declared = len(data)
	}
	// Said, so the client does not send its next request on a
	// connection the proxy is closing (it would be reset).
	h := resp.Header.Clone()
	h.Set("Connection", "close")
	_ = writeResponse(c, resp.StatusCode, h, cut, declared)
}

// pass forwards req and relays the answer; an upgrade answer turns the
// connection into a relay of raw bytes, cut if a CutStream fault matches.
func (p *Proxy) pass(c net.Conn, br *bufio.Reader, req *http.Request, body []byte, seen int) bool {
	up, resp, err := p.forward(req, body)
	if err != nil {
		_ = writeResponse(c, http.StatusBadGateway, http.Header{"Content-Type": {"text/plain"}, "Connection": {"close"}},
			[]byte("faultproxy: "+err.Error()), -1)
		return false
	}
	defer up.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if err := writeHead(c, resp.StatusCode, resp.Header, -1); err != nil {
			return false
		}
		p.splice(c, br, up, p.takeStream(req, seen))
		return false
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		reset(c)
		return false
	}
	n := len(data)
	if req.Method == http.MethodHead {
		data, n = nil, -1
	}
	h := resp.Header.Clone()
	h.Del("Connection") // the server's "close" answers forward's own request
	if err := writeResponse(c, resp.StatusCode, h, data, n); err != nil {
		return false
	}
	// The server's connection closes after each answer (see forward);
	// the client's stays open for its next request.
	return true
}
