package sandbox

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Main is the rack-gateway-sandbox command. Its command line and output are
// a contract used by e2e tests and `make demo`:
//
//	rack-gateway-sandbox --listen 127.0.0.1:0 --step-up-window 10m \
//	    [--rate-limit-rps 10] [--rate-limit-burst 20] [--tls [--ca-file PATH]]
//
// With --tls it serves HTTPS with a CA made at start (see NewTLS), writes
// the CA certificate to PATH (for SSL_CERT_FILE) and prints
// "ca_file=PATH" first. Once ready it prints "url=http://HOST:PORT"
// (https with --tls) and then one
// "totp <email> <base32 secret>" line per seeded user to stdout, and serves
// until a value arrives on stop (or stop is closed), then shuts down
// gracefully and returns 0. Logs go to stderr and never contain tokens.
// It refuses any --listen address that is not loopback (127.0.0.0/8, ::1,
// localhost) and returns 2 for usage errors, 1 for runtime failures.
func Main(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	if len(args) > 0 && args[0] == "browse" {
		return browseMain(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("rack-gateway-sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "loopback address to listen on")
	window := fs.Duration("step-up-window", 10*time.Minute, "MFA step-up window")
	rps := fs.Float64("rate-limit-rps", 10, "token-bucket refill rate per client IP")
	burst := fs.Int("rate-limit-burst", 20, "token-bucket size per client IP")
	useTLS := fs.Bool("tls", false, "serve HTTPS with a certificate authority generated at start")
	caFile := fs.String("ca-file", "", "with --tls: write the CA certificate (PEM) here, for SSL_CERT_FILE (default: a temporary file, removed at exit)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "rack-gateway-sandbox: unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return 2
	}
	if err := checkLoopback(*listen); err != nil {
		fmt.Fprintf(stderr, "rack-gateway-sandbox: %v\n", err)
		return 2
	}
	logger := log.New(stderr, "rack-gateway-sandbox: ", log.LstdFlags)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		logger.Printf("listen: %v", err)
		return 1
	}
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok || !addr.IP.IsLoopback() {
		// "localhost" could resolve elsewhere through /etc/hosts.
		_ = ln.Close()
		fmt.Fprintf(stderr, "rack-gateway-sandbox: refusing to serve on non-loopback address %s\n", ln.Addr())
		return 2
	}

	scheme := "http"
	if *useTLS {
		t, err := NewTLS(*caFile)
		if err != nil {
			_ = ln.Close()
			logger.Printf("tls: %v", err)
			return 1
		}
		defer t.Close()
		ln, scheme = t.Listener(ln), "https"
		fmt.Fprintf(stdout, "ca_file=%s\n", t.CAFile)
		logger.Printf("CA certificate in %s: pass it as SSL_CERT_FILE", t.CAFile)
	} else if *caFile != "" {
		_ = ln.Close()
		fmt.Fprintln(stderr, "rack-gateway-sandbox: --ca-file needs --tls")
		return 2
	}

	domain := "localhost"
	if addr.IP.To4() == nil {
		// Clients reach an IPv6 listener as [::1], which the host check
		// only accepts as the configured DOMAIN.
		domain = addr.IP.String()
	}
	srv := New(Config{
		StepUpWindow:   *window,
		RateLimitRPS:   *rps,
		RateLimitBurst: *burst,
		Domain:         domain,
		// The one origin assertions must carry: the url= line below.
		WebAuthnOrigin: scheme + "://" + ln.Addr().String(),
		Logger:         logger,
	})
	// Timeouts as in the real gateway's cmd/gateway.
	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          logger,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()

	fmt.Fprintf(stdout, "url=%s://%s\n", scheme, ln.Addr().String())
	for _, u := range srv.Users() {
		fmt.Fprintf(stdout, "totp %s %s\n", u.Email, u.TOTPSecret)
	}
	logger.Printf("listening on %s://%s (step-up window %s)", scheme, ln.Addr(), *window)

	select {
	case err := <-serveErr:
		logger.Printf("serve: %v", err)
		return 1
	case sig := <-stop:
		if sig != nil {
			logger.Printf("received %s, shutting down", sig)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(ctx); err != nil {
		logger.Printf("shutdown: %v", err)
		return 1
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Printf("serve: %v", err)
		return 1
	}
	return 0
}

// checkLoopback accepts only addresses that cannot be reached from another
// machine: the sandbox has seeded credentials and no real security.
func checkLoopback(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("invalid --listen %q: %v", listen, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to listen on %q: the sandbox only listens on loopback addresses (127.0.0.0/8, ::1, localhost)", listen)
}
