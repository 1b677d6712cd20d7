package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
)

// A gateway that takes the request and never finishes answering runs into
// the client's own bound, and the error says it waited, not that the
// gateway could not be reached: the URL is right, trying again may work.
func TestDoOwnTimeoutSaysTheGatewayDidNotAnswer(t *testing.T) {
	t.Parallel()
	for _, writeHead := range []bool{false, true} {
		c, _ := blocker(t, writeHead)
		c.Timeout = 200 * time.Millisecond
		_, err := c.Do(context.Background(), gateway.Request{Method: http.MethodGet, Path: "/api/v1/info"}, nil)
		var ne *gateway.NetError
		if !errors.As(err, &ne) {
			t.Fatalf("head %v: err %T %v, want *NetError", writeHead, err, err)
		}
		want := "the gateway at " + c.BaseURL + " did not answer within 200ms"
		if ne.Error() != want || !ne.Reached() {
			t.Errorf("head %v: %q (reached %v), want %q", writeHead, ne.Error(), ne.Reached(), want)
		}
	}
}

// The caller's deadline is the caller's: it stays a context error.
func TestDoCallerDeadlineIsNotTheGatewaysTimeout(t *testing.T) {
	t.Parallel()
	c, _ := blocker(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Do(ctx, gateway.Request{Method: http.MethodGet, Path: "/api/v1/info"}, nil)
	var ne *gateway.NetError
	if errors.As(err, &ne) && ne.Waited > 0 {
		t.Fatalf("the caller's deadline reported as the gateway's: %v", ne)
	}
}

// JSON that opens right and stops mid-way was cut in transit: the error
// does not doubt the URL. A body that is not JSON at all still does.
func TestDoCutJSONIsNotAWrongURL(t *testing.T) {
	t.Parallel()
	for body, cut := range map[string]bool{
		`{"token":"abc","user":{"email":"a@`: true,
		`[{"name":"demo"},{"na`:              true,
		`{"token": 12}`:                      false, // complete, wrong type
		`<html>nginx</html>`:                 false,
	} {
		c, _ := newGateway(t, textAnswer(200, body))
		var out struct {
			Token string `json:"token"`
		}
		_, err := c.Do(context.Background(), gateway.Request{Method: http.MethodGet, Path: "/api/v1/info"}, &out)
		var bre *gateway.BadResponseError
		if !errors.As(err, &bre) {
			t.Fatalf("%s: err %T %v, want *BadResponseError", body, err, err)
		}
		msg := bre.Error()
		if bre.Cut != cut || strings.Contains(msg, "rack-gateway URL?") == cut {
			t.Errorf("%s: cut %v, message %q", body, bre.Cut, msg)
		}
		if cut && !strings.Contains(msg, "ended early") {
			t.Errorf("%s: %q does not say the answer ended early", body, msg)
		}
	}
}
