package commands

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// gatewayErr turns a gateway client error into a typed error the user can
// act on, keeping the server's own words (gateway-api.md §8.1).
func gatewayErr(t *Target, err error) error {
	if err == nil {
		return nil
	}
	var typed *ipc.Error
	if errors.As(err, &typed) {
		return typed
	}
	if errors.Is(err, context.Canceled) {
		return ipc.Errorf(ipc.CodeInterrupted, "interrupted")
	}
	var ne *gateway.NetError
	if errors.As(err, &ne) {
		return ipc.Errorf(ipc.CodeGatewayUnreachable, "%v", ne).
			WithHint("Check the gateway URL and your network; 'rack-gateway rack' shows the URL in use.")
	}
	var br *gateway.BadResponseError
	if errors.As(err, &br) {
		return ipc.Errorf(ipc.CodeGateway, "%v", br)
	}
	var ae *gateway.APIError
	if !errors.As(err, &ae) {
		return ipc.Errorf(ipc.CodeInternal, "%v", err)
	}
	text := ae.Text()
	switch {
	case ae.Status == http.StatusUnauthorized && isSessionProblem(text):
		e := ipc.Errorf(ipc.CodeSessionExpired, "%s", text)
		if t != nil {
			return e.WithHint("Run: rack-gateway login %s", loginArgs(t))
		}
		return e
	case ae.Status == http.StatusForbidden:
		return ipc.Errorf(ipc.CodeForbidden, "%s", text)
	case ae.Status == http.StatusNotFound:
		return ipc.Errorf(ipc.CodeNotFound, "%s", text)
	case ae.Status >= 500:
		return ipc.Errorf(ipc.CodeGateway, "the gateway at %s failed (HTTP %d): %s", hostOf(ae.URL), ae.Status, text)
	default:
		return ipc.Errorf(ipc.CodeGateway, "%s", text)
	}
}

func isSessionProblem(text string) bool {
	t := strings.ToLower(text)
	return strings.Contains(t, "session") || strings.Contains(t, "token") ||
		strings.Contains(t, "missing authorization") || strings.Contains(t, "user locked") ||
		strings.Contains(t, "user suspended")
}

func hostOf(u string) string {
	if i := strings.Index(u, "/api/"); i > 0 {
		return u[:i]
	}
	return u
}
