package sandbox

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Browse plays the user's browser for a CLI login: it fetches the auth URL
// with selected_user (and mfa=auto when autoMFA is set, as if the user
// passed the browser's MFA challenge), following redirects, and returns
// the page it ended on. It only talks to loopback hosts: the sandbox.
func Browse(ctx context.Context, authURL, email string, autoMFA bool) (string, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return "", fmt.Errorf("bad auth URL: %w", err)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("refusing to browse %s: the sandbox browser only visits loopback hosts", u.Host)
	}
	q := u.Query()
	q.Set("selected_user", email)
	if autoMFA {
		q.Set("mfa", "auto")
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	final := resp.Request.URL
	if resp.StatusCode != http.StatusOK {
		return final.String(), fmt.Errorf("browser leg ended with %s at %s", resp.Status, final.Path)
	}
	if e := final.Query().Get("error"); e != "" {
		return final.String(), fmt.Errorf("browser leg failed: %s", e)
	}
	return final.String(), nil
}

// browseMain is `rack-gateway-sandbox browse [--user EMAIL] [--mfa auto|none] AUTH_URL`,
// used by `make demo` and scripts to finish a login without a browser.
func browseMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rack-gateway-sandbox browse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "admin@example.com", "the account to pick in the mock sign-in page")
	mfa := fs.String("mfa", "auto", "auto: pass the browser's MFA challenge; none: stop at the challenge")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || (*mfa != "auto" && *mfa != "none") {
		fmt.Fprintln(stderr, "usage: rack-gateway-sandbox browse [--user EMAIL] [--mfa auto|none] AUTH_URL")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	final, err := Browse(ctx, fs.Arg(0), *user, *mfa == "auto")
	if err != nil {
		fmt.Fprintf(stderr, "rack-gateway-sandbox browse: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "signed in as %s; browser ended at %s\n", *user, final)
	return 0
}
