package ipc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Client is a typed client for the agent's local API, for the CLI and for
// editor plugins written in Go. It never starts the agent.
type Client struct {
	Socket string
	http   *http.Client
}

// NewClient returns a client for the agent listening on socket.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return Dial(ctx, socket)
		},
		MaxIdleConns:    2,
		IdleConnTimeout: 30 * time.Second,
	}
	return &Client{Socket: socket, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// URL returns the http URL of an API path on the fixed host.
func URL(path string) string { return "http://" + Host + path }

// Status fetches GET /v1/status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var st Status
	if err := c.do(ctx, http.MethodGet, PathStatus, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Shutdown asks the agent to stop (POST /v1/shutdown).
func (c *Client) Shutdown(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, PathShutdown, nil)
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, URL(path), nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		if json.Unmarshal(body, &eb) == nil && eb.Error != nil {
			return eb.Error
		}
		return fmt.Errorf("agent answered %s", resp.Status)
	}
	if out != nil {
		return json.Unmarshal(body, out)
	}
	return nil
}

// Dialer returns a websocket dialer that reaches the agent over the socket.
// It is a fresh dialer: gorilla's shared DefaultDialer is never used.
func (c *Client) Dialer() *websocket.Dialer {
	return &websocket.Dialer{
		NetDialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return Dial(ctx, c.Socket)
		},
		HandshakeTimeout: 5 * time.Second,
		ReadBufferSize:   32 << 10,
		WriteBufferSize:  32 << 10,
	}
}

// WebsocketURL returns the ws URL of an API path on the fixed host.
func WebsocketURL(path string) string { return "ws://" + Host + path }

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
}

// Events subscribes to GET /v1/events (all types when none are given). The
// channel closes when ctx ends or the stream does.
func (c *Client) Events(ctx context.Context, types ...string) (<-chan Event, error) {
	u := WebsocketURL(PathEvents)
	if len(types) > 0 {
		u += "?types=" + url.QueryEscape(strings.Join(types, ","))
	}
	conn, resp, err := c.Dialer().DialContext(ctx, u, nil)
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			var eb ErrorBody
			if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&eb) == nil && eb.Error != nil {
				return nil, eb.Error
			}
		}
		return nil, err
	}
	out := make(chan Event, 64)
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	go func() {
		defer close(out)
		defer conn.Close()
		for {
			var e Event
			if err := conn.ReadJSON(&e); err != nil {
				return
			}
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// AnswerPrompt answers a pending prompt (POST /v1/prompts/{id}).
func (c *Client) AnswerPrompt(ctx context.Context, id, value string) error {
	b, _ := json.Marshal(PromptAnswer{Value: &value})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, URL(PathPrompts+url.PathEscape(id)), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&eb) == nil && eb.Error != nil {
			return eb.Error
		}
		return fmt.Errorf("agent answered %s", resp.Status)
	}
	return nil
}
