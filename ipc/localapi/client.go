// Package localapi is a typed Go client for the agent's local API (see
// docs/local-api.md), for editor plugins and tools written in Go. It lives
// apart from package ipc so that the thin CLI, which only needs the
// transport, does not link net/http.
package localapi

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

	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
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
			return transport.Dial(ctx, socket)
		},
		MaxIdleConns:    2,
		IdleConnTimeout: 30 * time.Second,
	}
	return &Client{Socket: socket, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// URL returns the http URL of an API path on the fixed host.
func URL(path string) string { return "http://" + ipc.Host + path }

// Status fetches GET /v1/status.
func (c *Client) Status(ctx context.Context) (*ipc.Status, error) {
	var st ipc.Status
	if err := c.do(ctx, http.MethodGet, ipc.PathStatus, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Shutdown asks the agent to stop (POST /v1/shutdown).
func (c *Client) Shutdown(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, ipc.PathShutdown, nil)
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
		var eb ipc.ErrorBody
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
			return transport.Dial(ctx, c.Socket)
		},
		HandshakeTimeout: 5 * time.Second,
		ReadBufferSize:   32 << 10,
		WriteBufferSize:  32 << 10,
	}
}

// WebsocketURL returns the ws URL of an API path on the fixed host.
func WebsocketURL(path string) string { return "ws://" + ipc.Host + path }

// Events subscribes to GET /v1/events (all types when none are given). The
// channel closes when ctx ends or the stream does.
func (c *Client) Events(ctx context.Context, types ...string) (<-chan ipc.Event, error) {
	u := WebsocketURL(ipc.PathEvents)
	if len(types) > 0 {
		u += "?types=" + url.QueryEscape(strings.Join(types, ","))
	}
	conn, resp, err := c.Dialer().DialContext(ctx, u, nil)
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			var eb ipc.ErrorBody
			if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&eb) == nil && eb.Error != nil {
				return nil, eb.Error
			}
		}
		return nil, err
	}
	// An event is a few hundred bytes; a bigger message is not one.
	conn.SetReadLimit(1 << 20)
	out := make(chan ipc.Event, 64)
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	go func() {
		defer close(out)
		defer conn.Close()
		for {
			var e ipc.Event
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
	b, _ := json.Marshal(ipc.PromptAnswer{Value: &value})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, URL(ipc.PathPrompts+url.PathEscape(id)), bytes.NewReader(b))
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
		var eb ipc.ErrorBody
		if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&eb) == nil && eb.Error != nil {
			return eb.Error
		}
		return fmt.Errorf("agent answered %s", resp.Status)
	}
	return nil
}
