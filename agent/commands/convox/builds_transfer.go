package convox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/rack"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// builds export and builds import move a build between racks (or apps)
// as the rack's export tarball.

// maxImportBytes bounds a build import. The body is held whole: a step-up
// retry must send it again, and the gateway buffers it anyway
// (docs/gateway-protocol.md, "Environment and releases").
const maxImportBytes = 512 << 20

// exportTimeout bounds a whole export download. The gateway bounds its
// own exchange with the rack far sooner; this only keeps a stalled
// connection from hanging the command.
const exportTimeout = 10 * time.Minute

func registerBuildsTransfer(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "builds export", Usage: "builds export <build> [-a app] [-f file]", MinArgs: 1, MaxArgs: 1, ArgHint: "a build id",
		Short: "Export a build to a file or to stdout",
		Long: `Write the rack's export of a build (a gzipped tarball) to --file, or to
stdout when that is not a terminal. With --file the file appears only once
the export is complete.`,
		Bind: bindRun(runBuildsExport),
	})
	r.Add(&kit.Command{
		Name: "builds import", Usage: "builds import [file] [-a app] [-f file] [--id]", MaxArgs: 1,
		Short: "Import an exported build as a new build and release (step-up MFA)",
		Long: `Send a build export (see builds export) to the rack, which stores it as a
new build of the app with a new release, and print that release. The
export is read from the file given (as an argument or with --file), or
from stdin when that is not a terminal.`,
		Bind: bindRun(runBuildsImport),
	})
}

// buildsExportOptions are builds export's flags.
type buildsExportOptions struct {
	appOption
	file string
}

func (o *buildsExportOptions) bind(fs *pflag.FlagSet) {
	o.appOption.bind(fs)
	fs.StringVarP(&o.file, "file", "f", "", "Write the export to this file (default: stdout)")
}

// runBuildsExport writes the export. On stdout the tarball is the data,
// so the step line goes to stderr, as upstream does; into a file, the
// step line stays on stdout.
func runBuildsExport(ctx context.Context, x *kit.Ctx, o *buildsExportOptions) error {
	id := x.Args[0]
	if o.file == "" && x.Term.TTY().Stdout {
		return kit.UsageErr(x.Cmd, "pipe this command into a file or specify --file")
	}
	_, t, err := rackClient(x)
	if err != nil {
		return err
	}
	app, err := resolveApp(x, o.appOption)
	if err != nil {
		return err
	}
	path := rack.BuildExportPath(app, id)
	if o.file == "" {
		x.StepsToStderr = true
		return runStep(x, "Exporting build", func() (string, error) {
			return "", download(ctx, x, t, path, x.Out)
		})
	}
	dst := x.Abs(o.file)
	return runStep(x, "Exporting build", func() (string, error) {
		return "", downloadFile(ctx, x, t, path, dst)
	})
}

// downloadFile downloads into a temporary file next to dst and renames it
// to dst once complete, so a failed export never leaves a truncated
// tarball under the name asked for. The file is private to its owner
// (0600): an export carries the app's images.
func downloadFile(ctx context.Context, x *kit.Ctx, t *kit.Target, path, dst string) error {
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".part-*")
	if err != nil {
		return ipc.Errorf(ipc.CodeUsage, "cannot write the export: %v", err)
	}
	done := false
	defer func() {
		if !done {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := download(ctx, x, t, path, f); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return ipc.Errorf(ipc.CodeInternal, "cannot write the export: %v", err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		_ = os.Remove(f.Name())
		done = true
		return ipc.Errorf(ipc.CodeUsage, "cannot write the export to %s: %v", dst, err)
	}
	done = true
	return nil
}

// download streams a GET of the rack proxy into dst. The gateway client
// buffers answers and caps them, which an export easily outgrows, so the
// body is copied as it comes; the request still goes through WithMFA,
// whose retry can only follow an answer that wrote nothing.
func download(ctx context.Context, x *kit.Ctx, t *kit.Target, path string, dst io.Writer) error {
	tok, err := x.Credential(t)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, exportTimeout)
	defer cancel()
	gw := x.Core.Gateway(t.URL)
	var copyErr error
	raw, err := x.WithMFA(ctx, t, tok, http.MethodGet, path, func(mfa http.Header) (*gateway.Raw, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, gw.BaseURL+path, nil)
		if err != nil {
			return nil, err
		}
		for k, v := range mfa {
			req.Header[k] = v
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if gw.UserAgent != "" {
			req.Header.Set("User-Agent", gw.UserAgent)
		}
		resp, err := gw.HTTP.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &gateway.NetError{URL: gw.BaseURL, Err: err}
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			return &gateway.Raw{Status: resp.StatusCode, Header: resp.Header, Body: body, URL: req.URL.String()}, nil
		}
		n, err := io.Copy(dst, resp.Body)
		if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
			err = io.ErrUnexpectedEOF
		}
		copyErr = err
		return &gateway.Raw{Status: resp.StatusCode, Header: resp.Header, URL: req.URL.String()}, nil
	})
	switch {
	case err != nil:
		return kit.GatewayErr(t, err)
	case raw.Status != http.StatusOK:
		return kit.GatewayErr(t, rack.ResponseError(raw))
	case copyErr != nil && ctx.Err() != nil:
		return kit.GatewayErr(t, ctx.Err())
	case copyErr != nil:
		return ipc.Errorf(ipc.CodeGateway, "the export stopped before its end: %v", copyErr).
			WithHint("Nothing usable was kept; run the command again.")
	}
	return nil
}

// buildsImportOptions are builds import's flags.
type buildsImportOptions struct {
	appOption
	file   string
	idOnly bool
}

func (o *buildsImportOptions) bind(fs *pflag.FlagSet) {
	o.appOption.bind(fs)
	fs.StringVarP(&o.file, "file", "f", "", "Read the export from this file (default: stdin)")
	fs.BoolVar(&o.idOnly, "id", false, "Print only the release id on stdout; everything else goes to stderr")
}

func runBuildsImport(ctx context.Context, x *kit.Ctx, o *buildsImportOptions) error {
	file := o.file
	if len(x.Args) == 1 {
		if file != "" && file != x.Args[0] {
			return kit.UsageErr(x.Cmd, "name the file once: as the argument or with --file")
		}
		file = x.Args[0]
	}
	data, err := readExport(x, file)
	if err != nil {
		return err
	}
	if o.idOnly {
		x.StepsToStderr = true
	}
	c, app, err := appWriter(ctx, x, o.appOption)
	if err != nil {
		return err
	}
	var b *rack.Build
	err = runStep(x, "Importing build", func() (string, error) {
		var err error
		if b, err = c.BuildImport(ctx, app, data); err != nil {
			return "", err
		}
		return b.Release, nil
	})
	if err != nil {
		return err
	}
	if o.idOnly {
		_, err = fmt.Fprintln(x.Out, b.Release)
	}
	return err
}

// readExport reads a build export from file, or from stdin when file is
// empty, and checks it is gzip data before anything is sent: a wrong file
// should not cost an MFA prompt.
func readExport(x *kit.Ctx, file string) ([]byte, error) {
	var r io.Reader
	name := "stdin"
	if file != "" {
		f, err := os.Open(x.Abs(file))
		if err != nil {
			return nil, ipc.Errorf(ipc.CodeUsage, "cannot read the build export: %v", err)
		}
		defer f.Close()
		r, name = f, file
	} else {
		if x.Term.TTY().Stdin {
			return nil, kit.UsageErr(x.Cmd, "pipe a file into this command or specify --file")
		}
		r = x.Term.Stdin()
	}
	data, err := io.ReadAll(io.LimitReader(r, maxImportBytes+1))
	if err != nil {
		return nil, ipc.Errorf(ipc.CodeUsage, "cannot read the build export from %s: %v", name, err)
	}
	switch {
	case len(data) > maxImportBytes:
		return nil, ipc.Errorf(ipc.CodeUsage, "the build export in %s is larger than %d MiB, more than one import may send", name, maxImportBytes>>20)
	case len(data) == 0:
		return nil, ipc.Errorf(ipc.CodeUsage, "%s is empty, not a build export", name)
	case !bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		return nil, ipc.Errorf(ipc.CodeUsage, "%s is not a build export (not gzip data); make one with 'rack-gateway builds export'", name)
	}
	return data, nil
}
