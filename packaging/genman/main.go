// Command genman writes the files that packages ship besides the programs:
// man pages and shell completions, both generated from the command registry
// (agent/commands/genman.go), so they match the --help of this build.
//
//	go run ./packaging/genman [-version V] [-date YYYY-MM-DD] [-gzip] DIR
//
// writes DIR/man/man1/rack-gateway*.1 (.1.gz with -gzip) and
// DIR/completions/{rack-gateway.bash,_rack-gateway,rack-gateway.fish}.
// DIR/man and DIR/completions are emptied first. The goreleaser config (packaging/goreleaser.yaml)
// and make install run it.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rack-gateway/rack-gateway/agent"
	"github.com/rack-gateway/rack-gateway/agent/commands"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "genman: %v\n", err)
		os.Exit(1)
	}
}

// completionFiles maps each shell to the file name its completion loader
// looks for.
var completionFiles = map[string]string{
	"bash": "rack-gateway.bash",
	"zsh":  "_rack-gateway",
	"fish": "rack-gateway.fish",
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("genman", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.String("version", "", "version for the page footers")
	date := fs.String("date", "", "date for the page footers: YYYY-MM-DD or RFC 3339 (default: today)")
	gz := fs.Bool("gzip", false, "write man pages gzipped (.1.gz), as Debian policy wants")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: genman [-version V] [-date D] [-gzip] DIR")
	}
	day, err := footerDate(*date, time.Now())
	if err != nil {
		return err
	}
	dir := fs.Arg(0)
	// Start from empty subdirectories, so a command that is gone leaves no
	// stale page behind.
	for _, sub := range []string{"man", "completions"} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return err
		}
	}
	// The agent program's own help, as `rack-gateway-agent help` prints it.
	var usage bytes.Buffer
	agent.Main([]string{"help"}, nil, &usage, io.Discard)
	pages := commands.ManPages(commands.ManInfo{Version: *version, Date: day, AgentUsage: usage.String()})
	for name, page := range pages {
		if *gz {
			name, page = name+".gz", gzipped(page)
		}
		if err := write(filepath.Join(dir, "man", "man1", name), page); err != nil {
			return err
		}
	}
	for shell, name := range completionFiles {
		var b bytes.Buffer
		if err := commands.CompletionScript(&b, shell); err != nil {
			return err
		}
		if err := write(filepath.Join(dir, "completions", name), b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// footerDate accepts YYYY-MM-DD or an RFC 3339 time (goreleaser's
// CommitDate) and returns YYYY-MM-DD; empty means now.
func footerDate(s string, now time.Time) (string, error) {
	if s == "" {
		return now.UTC().Format(time.DateOnly), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Format(time.DateOnly), nil
	}
	if _, err := time.Parse(time.DateOnly, s); err == nil {
		return s, nil
	}
	return "", fmt.Errorf("bad -date %q: want YYYY-MM-DD or RFC 3339", s)
}

// gzipped compresses without a name or time in the header, so the same
// page always gives the same bytes.
func gzipped(b []byte) []byte {
	var out bytes.Buffer
	w, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return out.Bytes()
}

func write(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
