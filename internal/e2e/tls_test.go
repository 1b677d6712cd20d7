package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newTLSSandbox starts a private sandbox serving HTTPS (--tls). Its CA
// certificate is in sb.CAFile, inside the test's temporary directory so
// that even a killed sandbox leaves nothing behind.
func newTLSSandbox(t testing.TB) *sandbox {
	t.Helper()
	sb := newSandbox(t, "--tls", "--ca-file", filepath.Join(t.TempDir(), "sandbox-ca.pem"))
	if sb.CAFile == "" || !strings.HasPrefix(sb.URL, "https://") {
		t.Fatalf("a --tls sandbox printed url %q and CA file %q", sb.URL, sb.CAFile)
	}
	return sb
}

// httpClient is how the test itself (the browser leg, a baseline
// program's request) reaches the sandbox: trusting its CA when it has
// one, verification on.
func (sb *sandbox) httpClient(t testing.TB) *http.Client {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	if sb == nil || sb.CAFile == "" {
		return c
	}
	pem, err := os.ReadFile(sb.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", sb.CAFile)
	}
	c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return c
}

// browse fetches u like a browser that trusts this sandbox.
func (sb *sandbox) browse(t testing.TB, u string) {
	t.Helper()
	if sb == nil || sb.CAFile == "" {
		browse(t, u)
		return
	}
	resp, err := sb.httpClient(t).Get(u)
	if err != nil {
		t.Fatalf("browser leg: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("browser leg ended with %s at %s", resp.Status, resp.Request.URL)
	}
}

// newTLSEnv is an environment logged in to a --tls sandbox, whose agent
// trusts the sandbox's CA through SSL_CERT_FILE, as a user's would trust
// a gateway behind a company CA.
func newTLSEnv(t testing.TB) *env {
	t.Helper()
	e := newEnv(t)
	e.sb = newTLSSandbox(t)
	e.set("SSL_CERT_FILE", e.sb.CAFile)
	e.login("prod", admin)
	return e
}

// The agent verifies the gateway's certificate against SSL_CERT_FILE:
// with the sandbox's CA there, apps works over HTTPS; an agent started
// without it refuses the gateway and says why and what to do.
func TestAppsOverTLS(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	r := e.mustRun("apps")
	contains(t, "apps over https", r.Out, "APP", "demo")

	e.stopAgent()
	e.set("SSL_CERT_FILE", "") // unset: only the system's CAs are trusted
	r = e.run("apps")
	if r.Code == 0 {
		t.Fatalf("apps succeeded against an untrusted certificate:\n%s", r)
	}
	contains(t, "apps against an untrusted gateway", r.Err, "certificate", "SSL_CERT_FILE")
	if strings.Contains(r.Out, "demo") {
		t.Errorf("apps printed the gateway's answer over an unverified connection:\n%s", r.Out)
	}
}
