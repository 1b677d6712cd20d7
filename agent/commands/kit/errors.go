package kit

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"strings"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// GatewayErr turns a gateway client error into a typed error the user can
// act on, keeping the server's own words. It is the only place an HTTP
// status becomes an error code; the typed error keeps the gateway error as
// its cause.
func GatewayErr(t *Target, err error) error {
	if err == nil {
		return nil
	}
	var typed *ipc.Error
	if errors.As(err, &typed) {
		return typed
	}
	if errors.Is(err, context.Canceled) {
		return ipc.Interrupted("interrupted")
	}
	var ne *gateway.NetError
	if errors.As(err, &ne) {
		e := ipc.Wrap(ipc.CodeGatewayUnreachable, err, "%v", ne)
		if ne.Reached() {
			// The request got there: the URL is right, the gateway or a
			// proxy before it is slow or dropped the answer.
			return e.WithHint("The gateway took the request but did not finish answering; try again, and if it persists ask its operators.")
		}
		var cert *tls.CertificateVerificationError
		if errors.As(err, &cert) {
			// Not the network: this machine does not trust the gateway's
			// certificate, as with a private CA the agent was not given.
			return e.WithHint("The gateway's TLS certificate is not trusted here. If it comes from a private CA, set SSL_CERT_FILE to that CA's certificate (PEM) in the agent's environment, then run 'rack-gateway agent restart'.")
		}
		return e.WithHint("Check the gateway URL and your network; 'rack-gateway rack' shows the URL in use.")
	}
	var br *gateway.BadResponseError
	if errors.As(err, &br) {
		return ipc.Wrap(ipc.CodeGateway, err, "%v", br)
	}
	var ae *gateway.APIError
	if !errors.As(err, &ae) {
		return ipc.Wrap(ipc.CodeInternal, err, "%v", err)
	}
	// Text is already capped and stripped of control characters
	// (gateway.SafeText): whatever the server sent, the terminal only
	// shows it.
	words := ae.Text()
	text := words
	if needsStatus(ae) {
		text = "gateway answered " + gateway.StatusLine(ae.Status)
		if words != "" && !strings.EqualFold(words, gateway.StatusLine(ae.Status)) && !strings.EqualFold(words, http.StatusText(ae.Status)) {
			text += ": " + words
		}
	}
	switch {
	case ae.Status == http.StatusUnauthorized && isSessionProblem(words):
		e := ipc.Wrap(ipc.CodeSessionExpired, err, "%s", text)
		if t != nil {
			return e.WithHint("Run: rack-gateway login %s", LoginArgs(t))
		}
		return e
	case ae.Status == http.StatusTooManyRequests:
		// A safe request was already retried once if the wait was short
		// (gateway.Client.DoRaw); what is left is the user's to time.
		return ipc.Wrap(ipc.CodeGateway, err, "rate limited by the gateway (HTTP 429); %s", ae.RetryText())
	case ae.Status == http.StatusForbidden:
		return ipc.Wrap(ipc.CodeForbidden, err, "%s", text)
	case ae.Status == http.StatusNotFound:
		return ipc.Wrap(ipc.CodeNotFound, err, "%s", text)
	case ae.Status >= 500 && !ae.Convox:
		return ipc.Wrap(ipc.CodeGateway, err, "the gateway at %s failed (HTTP %d): %s", HostOf(ae.URL), ae.Status, words)
	default:
		return ipc.Wrap(ipc.CodeGateway, err, "%s", text)
	}
}

// needsStatus reports an answer whose words alone would hide what
// happened: a web page (a load balancer's, never the gateway's own words),
// or a rack-proxy server error that is not the rack's JSON error. The
// rack's and the gateway's own refusals are shown as they are, as the
// Convox CLI shows them (docs/gateway-protocol.md, "Error rendering").
func needsStatus(ae *gateway.APIError) bool {
	if ae.Page {
		return true
	}
	return ae.Convox && ae.Status >= 500 && ae.Code == "" && ae.Body != ""
}

func isSessionProblem(text string) bool {
	t := strings.ToLower(text)
	return strings.Contains(t, "session") || strings.Contains(t, "token") ||
		strings.Contains(t, "missing authorization") || strings.Contains(t, "user locked") ||
		strings.Contains(t, "user suspended")
}

func HostOf(u string) string {
	if i := strings.Index(u, "/api/"); i > 0 {
		return u[:i]
	}
	return u
}
