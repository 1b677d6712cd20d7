// Package gateway is a small typed client for the rack-gateway server's
// native API (docs/gateway-protocol.md): login, logout, MFA status and info.
//
// Every call has a deadline, TLS is always verified (custom CAs come through
// SSL_CERT_FILE), redirects are never followed, no Origin or cookie is sent,
// and errors keep the server's words.
package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// CallTimeout bounds every non-streaming request unless a Client says
// otherwise (Client.Timeout).
const CallTimeout = 30 * time.Second

// DialTimeout bounds connecting, so a gateway that refuses or drops
// connections is reported within seconds, not after CallTimeout.
const DialTimeout = 5 * time.Second

// NormalizeURL applies the upstream CLI's rules (https:// when no scheme,
// no trailing slash) and rejects what cannot be a gateway base URL.
func NormalizeURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errors.New("gateway URL is empty")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("invalid gateway URL %q: %v", raw, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("invalid gateway URL %q: scheme must be https (or http for local development)", raw)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("invalid gateway URL %q: no host", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("invalid gateway URL %q: must not contain credentials, a query or a fragment", raw)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// NewHTTPClient returns the HTTP client used for one gateway: keep-alive
// connections, verified TLS, bounded dial and header waits, no redirects.
func NewHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		// A connection closed after IdleConnTimeout resumes its TLS
		// session instead of a full handshake. RootCAs stays nil: the
		// system roots, which honour SSL_CERT_FILE.
		TLSClientConfig:       &tls.Config{ClientSessionCache: tls.NewLRUClientSessionCache(32)},
		ResponseHeaderTimeout: CallTimeout,
	}
	return &http.Client{
		Transport: tr,
		// The logout endpoint answers 302 to the web app; following it would
		// only fetch HTML. No native call needs a redirect.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Client talks to one gateway.
type Client struct {
	BaseURL   string
	HTTP      *http.Client
	UserAgent string
	// Now and Wait are the clock and the pause before a retry after a
	// 429 (see DoRaw); nil means the real ones. Tests step them.
	Now  func() time.Time
	Wait func(ctx context.Context, d time.Duration) error
	// Timeout bounds each non-streaming request, answer included; zero
	// means CallTimeout. The agent shortens it only for tests, so that a
	// gateway that never answers is seen in seconds.
	Timeout time.Duration
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return CallTimeout
}

// New returns a client for baseURL (already normalized).
func New(baseURL string, hc *http.Client, userAgent string) *Client {
	if hc == nil {
		hc = NewHTTPClient()
	}
	return &Client{BaseURL: baseURL, HTTP: hc, UserAgent: userAgent}
}

// APIError is a non-success answer from the gateway.
type APIError struct {
	Method, URL string
	Status      int
	Code        string // JSON "error"
	Message     string // JSON "message"
	Body        string // trimmed raw body when it was not JSON (a page: its text)
	// Page marks a body that was an HTML page (a load balancer's or a
	// proxy's), reduced to its title or text: never the gateway's own
	// words, so the status is what tells the user what happened.
	Page   bool
	Header http.Header
	// Convox marks a rack-proxy answer, rendered the way the Convox CLI
	// renders it (see NewProxyError).
	Convox bool
}

// Text is what the server meant to tell the user: message, else error, else
// the raw body. A rack-proxy answer shows its "error" member only, as the
// Convox CLI does. It is always fit for a terminal (see SafeText).
func (e *APIError) Text() string {
	// A server text of only blanks or control characters cleans to nothing,
	// which would leave the user a bare "Error: "; the status says more.
	if t := SafeText(e.words()); t != "" {
		return t
	}
	return StatusLine(e.Status)
}

func (e *APIError) words() string {
	if e.Convox {
		switch {
		case e.Code != "":
			return e.Code
		case e.Body != "":
			return e.Body
		default:
			return fmt.Sprintf("response status %d", e.Status)
		}
	}
	switch {
	case e.Message != "":
		return e.Message
	case e.Code != "":
		return e.Code
	case e.Body != "":
		return e.Body
	default:
		return fmt.Sprintf("HTTP %d", e.Status)
	}
}

func (e *APIError) Error() string {
	if e.Status == http.StatusTooManyRequests {
		return fmt.Sprintf("gateway answered %s: %s; %s", StatusLine(e.Status), e.Text(), e.RetryText())
	}
	return fmt.Sprintf("gateway answered %s: %s", StatusLine(e.Status), e.Text())
}

// NetError means the gateway could not be reached, did not answer in
// time, or its answer was cut short. The three read differently because
// they call for different next steps: check the URL, or try again.
type NetError struct {
	URL string
	Err error
	// Waited is set when the request ran out of time: the gateway (or a
	// proxy before it) took the request and did not answer within it.
	Waited time.Duration
	// Cut marks an answer whose body broke off while it was being read.
	Cut bool
}

func (e *NetError) Error() string {
	switch {
	case e.Waited > 0:
		return fmt.Sprintf("the gateway at %s did not answer within %s", e.URL, e.Waited)
	case e.Cut:
		return fmt.Sprintf("the answer from the gateway at %s was cut short: %v", e.URL, e.Err)
	}
	return fmt.Sprintf("cannot reach the gateway at %s: %v", e.URL, e.Err)
}

// Reached reports whether the gateway was reached at all: a timeout or a
// cut answer came after the request left, so the URL is not the problem.
func (e *NetError) Reached() bool { return e.Waited > 0 || e.Cut }

func (e *NetError) Unwrap() error { return e.Err }

// BadResponseError means the gateway answered success with a body we could
// not decode: usually the URL points at something that is not a gateway.
type BadResponseError struct {
	URL    string
	Status int
	Detail string
	// Cut marks JSON that broke off before its end: the gateway was
	// reached and began the right answer, so the URL is not in question.
	Cut bool
}

func (e *BadResponseError) Error() string {
	if e.Cut {
		return fmt.Sprintf("the answer from %s (HTTP %d) ended early: %s; the connection may have dropped, try again", e.URL, e.Status, e.Detail)
	}
	return fmt.Sprintf("unexpected response from %s (HTTP %d): %s; is this a rack-gateway URL?", e.URL, e.Status, e.Detail)
}

// badJSON words a success body that did not decode into the expected
// shape. A body that opens like JSON and stops mid-way was cut in transit
// (a dropped connection without framing to tell), not a wrong URL.
func badJSON(raw *Raw, err error) *BadResponseError {
	b := bytes.TrimSpace(raw.Body)
	var syn *json.SyntaxError
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') && errors.As(err, &syn) && syn.Offset >= int64(len(b)) {
		return &BadResponseError{URL: raw.URL, Status: raw.Status, Cut: true,
			Detail: fmt.Sprintf("the JSON stops after %d bytes", len(raw.Body))}
	}
	return &BadResponseError{URL: raw.URL, Status: raw.Status, Detail: "body is not the expected JSON (" + snippet(raw.Body) + ")"}
}

// Request describes one call.
type Request struct {
	Method string
	Path   string // starting with /api/v1/
	Token  string // bearer credential; empty for the login legs
	Body   any    // JSON-encoded when non-nil
	Header http.Header
	// OK lists the statuses that count as success; default 200.
	OK []int
}

// Raw is a gateway answer, whatever its status.
type Raw struct {
	Status int
	Header http.Header
	Body   []byte
	URL    string
}

// DoRaw performs r and returns the answer without judging its status.
// Network failures come back as *NetError. A 429 to a request that is safe
// to repeat (see retryable) is tried once more after the Retry-After the
// answer gives, when that wait is at most MaxRetryWait and ends before
// ctx's deadline; otherwise the 429 is returned for the caller to word
// (see RetryAfter).
func (c *Client) DoRaw(ctx context.Context, r Request) (*Raw, error) {
	raw, err := c.doOnce(ctx, r)
	if err != nil || raw.Status != http.StatusTooManyRequests || !retryable(r) {
		return raw, err
	}
	wait, ok := RetryAfter(raw.Header, c.now())
	if !ok || wait > MaxRetryWait {
		return raw, nil
	}
	if dl, has := ctx.Deadline(); has && c.now().Add(wait).After(dl) {
		return raw, nil
	}
	if err := c.wait(ctx, wait); err != nil {
		return nil, err
	}
	return c.doOnce(ctx, r)
}

func (c *Client) doOnce(ctx context.Context, r Request) (*Raw, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	// ownDeadline: the time ran out on this call's own bound, not on the
	// caller's context, so the gateway is the one that did not answer.
	ownDeadline := func() bool {
		return parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded)
	}
	full := c.BaseURL + r.Path
	var body io.Reader = http.NoBody
	contentType := ""
	switch b := r.Body.(type) {
	case nil:
	case RawBody:
		body, contentType = bytes.NewReader(b.Data), b.ContentType
		if b.Progress != nil {
			body = &countingReader{r: body, fn: b.Progress}
		}
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		body, contentType = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, full, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if b, ok := r.Body.(RawBody); ok && b.Progress != nil && len(b.Data) > 0 {
		// The counting wrapper hides the length from net/http, which would
		// send the body chunked; the length is known, so declare it.
		req.ContentLength = int64(len(b.Data))
		req.GetBody = func() (io.ReadCloser, error) {
			return io.NopCloser(&countingReader{r: bytes.NewReader(b.Data), fn: b.Progress}), nil
		}
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if parent.Err() != nil && errors.Is(err, context.Canceled) {
			return nil, parent.Err()
		}
		if ownDeadline() {
			return nil, &NetError{URL: c.BaseURL, Err: unwrapURLError(err), Waited: c.timeout()}
		}
		return nil, &NetError{URL: c.BaseURL, Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		if ownDeadline() {
			return nil, &NetError{URL: c.BaseURL, Err: err, Waited: c.timeout()}
		}
		return nil, &NetError{URL: c.BaseURL, Err: err, Cut: true}
	}
	return &Raw{Status: resp.StatusCode, Header: resp.Header, Body: data, URL: full}, nil
}

// RawBody is a request body sent as is.
type RawBody struct {
	ContentType string
	Data        []byte
	// Progress, when set, hears how many bytes the transport has taken
	// from the body so far (sent, not yet acknowledged).
	Progress func(sent int64)
}

type countingReader struct {
	r    io.Reader
	n    int64
	fn   func(int64)
	last time.Time
}

// Read reports progress at most every 50 ms: a bar redrawn per 32 KiB
// chunk would flood a slow terminal.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if now := time.Now(); now.Sub(c.last) >= 50*time.Millisecond || err != nil {
		c.last = now
		c.fn(c.n)
	}
	return n, err
}

// Do performs r and decodes a successful JSON body into out (when out is
// non-nil). It returns the status so callers can tell 200 from 202.
func (c *Client) Do(ctx context.Context, r Request, out any) (int, error) {
	raw, err := c.DoRaw(ctx, r)
	if err != nil {
		return 0, err
	}
	ok := r.OK
	if len(ok) == 0 {
		ok = []int{http.StatusOK}
	}
	for _, s := range ok {
		if raw.Status != s {
			continue
		}
		if out != nil && raw.Status != http.StatusNoContent && raw.Status/100 == 2 {
			if err := json.Unmarshal(raw.Body, out); err != nil {
				return raw.Status, badJSON(raw, err)
			}
		}
		return raw.Status, nil
	}
	return raw.Status, NewAPIError(r.Method, raw)
}

// NewAPIError describes a non-success answer in the server's own words.
func NewAPIError(method string, raw *Raw) *APIError {
	data := raw.Body
	e := &APIError{Method: method, URL: raw.URL, Status: raw.Status, Header: raw.Header}
	var j struct {
		Error   any    `json:"error"`
		Message string `json:"message"`
	}
	trimmed := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &j) == nil {
		if s, ok := j.Error.(string); ok {
			e.Code = s
		}
		e.Message = j.Message
	}
	if e.Code == "" && e.Message == "" {
		e.Body, e.Page = bodyText(trimmed, func(s string) string { return snippetN(s, 300) })
	}
	return e
}

// maxBodyText bounds the raw body an error keeps: Text shows at most
// MaxTextBytes of it, and an error should not pin megabytes.
const maxBodyText = 64 << 10

// bodyText is what an error keeps of a body that is not JSON: a page's
// text, else the body as short says.
func bodyText(trimmed string, short func(string) string) (text string, page bool) {
	if IsHTML(trimmed) {
		return pageText(cut(trimmed, maxBodyText)), true
	}
	return short(trimmed), false
}

// cut shortens s to at most n bytes on a character boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// NewProxyError reads a failed rack-proxy answer the way the Convox SDK
// does: the JSON "error" member (any case) when there is one, else the
// trimmed body as it is (the gateway's own text refusals), else the status.
func NewProxyError(method string, raw *Raw) *APIError {
	e := &APIError{Method: method, URL: raw.URL, Status: raw.Status, Header: raw.Header, Convox: true}
	var obj map[string]any
	if json.Unmarshal(raw.Body, &obj) == nil {
		for k, v := range obj {
			if s, ok := v.(string); ok && strings.EqualFold(k, "error") && s != "" {
				e.Code = s
			}
		}
	}
	if e.Code == "" {
		e.Body, e.Page = bodyText(strings.TrimSpace(string(raw.Body)), func(s string) string { return cut(s, maxBodyText) })
	}
	return e
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func snippet(b []byte) string { return SafeText(snippetN(strings.TrimSpace(string(b)), 80)) }

func snippetN(s string, n int) string {
	if s == "" {
		return "empty body"
	}
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n-- // never cut a character in two
		}
		return s[:n] + "…"
	}
	return s
}
