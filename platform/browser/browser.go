// Package browser opens a URL in the user's web browser, for the login flow
// and for "open this page" actions the agent asks the CLI to perform.
//
// It is pure Go (standard library only) because the thin CLI imports it. The
// browser is started detached: we never wait for it, never share our terminal
// with it, and never let its chatter (xdg-open and Chromium are noisy) reach
// the user's terminal, where it would interleave with the command's output.
package browser

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Open opens rawURL in the user's browser and returns once the opener has
// started; it does not wait for the browser.
//
// $BROWSER is honoured first, with the conventional syntax: a list of
// commands separated by ':' (';' on Windows, where ':' appears in paths),
// tried in order until one starts. In each command "%s" is replaced by the
// URL and "%%" by "%"; a command without "%s" gets the URL as its last
// argument. Commands are split on spaces and run directly, never through a
// shell, so a URL cannot inject shell syntax. Without $BROWSER: xdg-open
// (Linux and BSD), open (macOS), or rundll32 url.dll,FileProtocolHandler
// (Windows).
//
// Only absolute http and https URLs are accepted: the URL comes from a
// server, and handing file:, javascript: or custom-scheme URLs to an opener
// would let that server launch local programs.
//
// ctx is checked before each attempt; it does not bound the browser's
// lifetime, because cancelling the command must not close the user's tab.
func Open(ctx context.Context, rawURL string) error {
	if err := validate(rawURL); err != nil {
		return err
	}
	cmds := commands(rawURL)
	var errs []error
	for _, argv := range cmds {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := start(argv)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", argv[0], err))
	}
	if len(errs) == 0 {
		return errors.New("browser: no browser command to try (set $BROWSER)")
	}
	return fmt.Errorf("browser: could not open the URL (set $BROWSER to choose a browser): %w", errors.Join(errs...))
}

// validate accepts only absolute http(s) URLs with a host and no whitespace
// or control characters (which openers or rundll32 may split on).
func validate(rawURL string) error {
	if strings.IndexFunc(rawURL, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return errors.New("browser: refusing a URL containing spaces or control characters")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("browser: invalid URL: %w", err)
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return fmt.Errorf("browser: refusing to open a %q URL; only http and https are allowed", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("browser: refusing a URL without a host")
	}
	return nil
}

// commands lists the argv vectors to try, in order.
func commands(rawURL string) [][]string {
	var out [][]string
	if env := os.Getenv("BROWSER"); strings.TrimSpace(env) != "" {
		sep := ":"
		if runtime.GOOS == "windows" {
			sep = ";"
		}
		for _, entry := range strings.Split(env, sep) {
			if argv := expand(entry, rawURL); argv != nil {
				out = append(out, argv)
			}
		}
		// An explicit $BROWSER is the user's choice; falling back to the
		// platform opener after it fails would second-guess them.
		return out
	}
	switch runtime.GOOS {
	case "darwin":
		return [][]string{{"open", rawURL}}
	case "windows":
		// rundll32 hands the URL to the registered http handler without a
		// console window and, unlike "cmd /c start", without cmd's parsing
		// of & and ^ in query strings.
		return [][]string{{"rundll32", "url.dll,FileProtocolHandler", rawURL}}
	default:
		return [][]string{{"xdg-open", rawURL}}
	}
}

// expand turns one $BROWSER entry into argv, substituting the URL.
func expand(entry, rawURL string) []string {
	fields := strings.Fields(entry)
	if len(fields) == 0 {
		return nil
	}
	substituted := false
	for i, f := range fields {
		if !strings.Contains(f, "%") {
			continue
		}
		var b strings.Builder
		for j := 0; j < len(f); j++ {
			if f[j] == '%' && j+1 < len(f) {
				switch f[j+1] {
				case 's':
					b.WriteString(rawURL)
					substituted = true
					j++
					continue
				case '%':
					b.WriteByte('%')
					j++
					continue
				}
			}
			b.WriteByte(f[j])
		}
		fields[i] = b.String()
	}
	if !substituted {
		fields = append(fields, rawURL)
	}
	return fields
}

// start launches argv detached from our terminal and process group, with
// stdio on the null device, and reaps it in the background so it never
// lingers as a zombie in a long-lived agent.
func start(argv []string) error {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	cmd := exec.Command(path, argv[1:]...)
	// nil Stdin/Stdout/Stderr make exec use the null device.
	cmd.SysProcAttr = detachedAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
