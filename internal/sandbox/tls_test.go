package sandbox

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The CA the sandbox writes is all a client needs to verify it, for every
// loopback name, with verification on; a client without it refuses.
func TestTLSServesACertificateItsCAVerifies(t *testing.T) {
	t.Parallel()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	tl, err := NewTLS(caFile)
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	if tl.CAFile != caFile {
		t.Fatalf("CA file %q, want %q", tl.CAFile, caFile)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil || string(pem) != string(tl.CAPEM) {
		t.Fatalf("CA file: %v (%d bytes, want %d)", err, len(pem), len(tl.CAPEM))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in the CA file")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }),
		// The refused client's handshake error is expected, not news.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() { _ = srv.Serve(tl.Listener(ln)) }()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	get := func(c *http.Client, host string) error {
		resp, err := c.Get("https://" + net.JoinHostPort(host, port) + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	trusting := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if err := get(trusting, host); err != nil {
			t.Errorf("%s with the CA: %v", host, err)
		}
	}
	untrusting := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	if err := get(untrusting, "127.0.0.1"); err == nil {
		t.Error("a client without the CA accepted the sandbox's certificate")
	}
}

// Without --ca-file the CA goes to a temporary file that Close removes.
func TestTLSTemporaryCAFileIsRemoved(t *testing.T) {
	t.Parallel()
	tl, err := NewTLS("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tl.CAFile); err != nil {
		t.Fatalf("CA file: %v", err)
	}
	tl.Close()
	if _, err := os.Stat(tl.CAFile); !os.IsNotExist(err) {
		t.Errorf("CA file %s still there after Close (%v)", tl.CAFile, err)
	}
}
