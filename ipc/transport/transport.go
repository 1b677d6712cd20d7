package transport

// This file holds the platform-independent half of the local transport:
// the exported types, the uid-checking listener wrapper and the retrying
// dialer. Platform files supply Listen, Dial, IsNotRunning, PeerCredOf,
// RuntimeDir and SocketPath.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// ErrAgentRunning is returned (wrapped, so test it with errors.Is) by Listen
// when a live agent already answers on the requested path. Listen never
// displaces a live agent, so the caller should connect to it instead.
var ErrAgentRunning = errors.New("an agent is already running")

// PeerCred identifies the process on the other end of a local connection.
type PeerCred struct {
	UID int
	GID int
	// PID is 0 when the platform cannot tell.
	PID int
}

// Conn is a net.Conn accepted by a Listener, together with the credentials
// of the peer as reported by the kernel at accept time.
type Conn struct {
	net.Conn
	Peer PeerCred
}

// ListenOptions tunes Listen.
type ListenOptions struct {
	// OnReject, if set, is called with a connection from another uid before
	// it is closed, so the server can write a short explanation. It runs
	// on its own goroutine, at most maxRejecting at a time (connections
	// beyond that are closed unanswered), with a 1 s deadline set on the
	// connection: it may read the request before answering.
	OnReject func(c net.Conn, peer PeerCred)
}

// rejectDeadline bounds how long OnReject may take. A foreign peer that
// never reads must not be able to hold the agent's resources.
const rejectDeadline = time.Second

// maxRejecting bounds the refusals in progress: a flood of foreign
// connections costs a few goroutines, and never delays Accept.
const maxRejecting = 8

// Backoff bounds for DialRetry. The agent normally binds within a few
// milliseconds of starting, so start small; cap the interval so a slow start
// is still noticed promptly.
const (
	retryMin = 5 * time.Millisecond
	retryMax = 100 * time.Millisecond
)

// peerListener wraps a platform listener and filters connections by peer uid.
// Filtering in Accept (rather than leaving it to every server) means no code
// path can forget the check.
type peerListener struct {
	inner net.Listener
	opts  ListenOptions
	uid   int
	// rejecting holds a token per refusal in progress (maxRejecting).
	rejecting chan struct{}

	closeOnce sync.Once
	closeErr  error
	// cleanup runs once after inner is closed (e.g. socket file removal).
	cleanup func() error
}

// Accept waits for the next connection from a peer with our uid and returns
// it as a *Conn. Connections from other uids are handed to OnReject (on
// another goroutine), closed, and skipped; Accept only returns an error when the underlying listener does.
func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.inner.Accept()
		if err != nil {
			return nil, err
		}
		peer, err := PeerCredOf(c)
		if err != nil {
			// Without credentials we cannot tell friend from foe, so the
			// connection is refused; one bad peer must not stop the agent.
			_ = c.Close()
			continue
		}
		if peer.UID != l.uid {
			select {
			case l.rejecting <- struct{}{}:
				go func() {
					defer func() { <-l.rejecting }()
					l.reject(c, peer)
				}()
			default:
				_ = c.Close()
			}
			continue
		}
		return &Conn{Conn: c, Peer: peer}, nil
	}
}

func (l *peerListener) reject(c net.Conn, peer PeerCred) {
	defer c.Close()
	if l.opts.OnReject == nil {
		return
	}
	_ = c.SetDeadline(time.Now().Add(rejectDeadline))
	l.opts.OnReject(c, peer)
}

// Close stops the listener and, on Unix, removes the socket file if it is
// still the one this listener created. It is safe to call more than once.
func (l *peerListener) Close() error {
	l.closeOnce.Do(func() {
		l.closeErr = l.inner.Close()
		if l.cleanup != nil {
			if err := l.cleanup(); err != nil && l.closeErr == nil {
				l.closeErr = err
			}
		}
	})
	return l.closeErr
}

// Addr returns the listener's address.
func (l *peerListener) Addr() net.Addr { return l.inner.Addr() }

// wrapDialErr builds the uid-filtering listener around a platform listener.
func wrapDialErr(inner net.Listener, opts ListenOptions, cleanup func() error) net.Listener {
	return &peerListener{inner: inner, opts: opts, uid: os.Getuid(), cleanup: cleanup, rejecting: make(chan struct{}, maxRejecting)}
}

// DialRetry dials path until it succeeds, ctx ends, or wait elapses. It
// retries, with backoff from ~5 ms up to 100 ms, only on errors that mean
// "the agent is starting" (no socket yet, connection refused; on Windows
// pipe not found or busy). Any other error is returned at once, since
// retrying e.g. a permission error would only delay the report.
//
// When it gives up it returns the last dial error (so IsNotRunning still
// reports true), wrapped together with the context error. A wait of zero or
// less makes a single attempt.
func DialRetry(ctx context.Context, path string, wait time.Duration) (net.Conn, error) {
	if wait <= 0 {
		return Dial(ctx, path)
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()

	backoff := retryMin
	var lastErr error
	for {
		c, err := Dial(ctx, path)
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			// The dial may have been cut short by the deadline; report the
			// last "not running" error, which is the interesting one.
			return nil, giveUp(path, wait, lastErr, err, ctx.Err())
		}
		if !retryable(err) {
			return nil, err
		}
		lastErr = err

		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, giveUp(path, wait, lastErr, nil, ctx.Err())
		case <-t.C:
		}
		backoff *= 2
		if backoff > retryMax {
			backoff = retryMax
		}
	}
}

// Retryable reports whether a dial error means "the agent is starting"
// (no socket yet, refused; on Windows a missing or busy pipe): the errors
// DialRetry tries again after. A caller polling a socket itself uses it to
// report any other error at once.
func Retryable(err error) bool { return retryable(err) }

// giveUp formats DialRetry's final error. It wraps both the last
// retryable dial error and the context error so callers can use either
// IsNotRunning or errors.Is(err, context.DeadlineExceeded/Canceled).
func giveUp(path string, wait time.Duration, lastErr, dialErr, ctxErr error) error {
	if lastErr == nil {
		lastErr = dialErr
	}
	if lastErr == nil || errors.Is(lastErr, ctxErr) {
		return fmt.Errorf("connecting to agent at %s: %w", path, ctxErr)
	}
	return fmt.Errorf("agent at %s did not answer within %v: %w (%w)", path, wait, lastErr, ctxErr)
}
