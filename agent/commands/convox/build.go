package convox

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/rack"
	"github.com/rack-gateway/rack-gateway/agent/term"
	"github.com/rack-gateway/rack-gateway/ipc"
)

func registerBuild(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "build", Usage: "build [dir] [-a app] [-f DOCKERFILE] [-m MANIFEST] [--description TEXT] [--no-cache] [--id]", MaxArgs: 1,
		Short: "Package a directory, upload it and build it on the rack (step-up MFA)",
		Long: `Package a directory (default: the current one) into a tarball, leaving out
what its .dockerignore excludes, upload it to the rack and build it there.
The build's output follows on stdout, then its build and release ids.
In a git checkout the commit (git rev-parse HEAD) is sent as the build's
git-sha, which deploy approvals for API tokens are matched against.

-f/--file names another Dockerfile: it is packaged as the directory's
Dockerfile, the one a service that builds from "." uses.`,
		Bind: bindRun(func(ctx context.Context, x *kit.Ctx, o *buildOptions) error { return runBuild(ctx, x, o, false) }),
	})
	r.Add(&kit.Command{
		Name: "deploy", Usage: "deploy [dir] [-a app] [-f DOCKERFILE] [-m MANIFEST] [--description TEXT] [--no-cache] [--wait] [--id]", MaxArgs: 1,
		Short: "Build a directory and promote the new release (step-up MFA)",
		Long: `Build a directory as "build" does, then promote the build's release and
wait for the app to run it (with or without --wait, as upstream).`,
		Bind: bindRun(runDeploy),
	})
}

// buildOptions are the flags of build and deploy. A description given,
// even an empty one, replaces the one taken from git.
type buildOptions struct {
	appOption
	description optionalString
	dockerfile  string
	manifest    string
	noCache     bool
	idOnly      bool
}

func (o *buildOptions) bind(fs *pflag.FlagSet) {
	o.appOption.bind(fs)
	fs.VarP(&o.description, "description", "d", "Description of the build")
	fs.StringVarP(&o.dockerfile, "file", "f", "", "Path to a Dockerfile, packaged as the directory's Dockerfile")
	fs.StringVarP(&o.manifest, "manifest", "m", "", "Manifest file inside the directory (default: the rack's, convox.yml)")
	fs.BoolVar(&o.noCache, "no-cache", false, "Build without the rack's layer cache")
	fs.BoolVar(&o.idOnly, "id", false, "Print only the release id on stdout; everything else goes to stderr")
}

// deployOptions are deploy's flags: build's, --wait (deploy always waits
// for the app, as upstream's does) and upstream's --replace.
type deployOptions struct {
	buildOptions
	promoteWaitOption
	replace []string
}

func (o *deployOptions) bind(fs *pflag.FlagSet) {
	o.buildOptions.bind(fs)
	o.promoteWaitOption.bind(fs)
	fs.StringSliceVar(&o.replace, "replace", nil, "Accepted as upstream; it changes nothing (set env with 'env set' before deploying)")
}

// runDeploy is runBuild then promote. Upstream's deploy accepts --replace
// and passes it on to code that never reads it, so a deploy with it
// builds and promotes as one without; the notice says so rather than
// leave the user believing the env changed.
func runDeploy(ctx context.Context, x *kit.Ctx, o *deployOptions) error {
	if len(o.replace) > 0 {
		x.Progress("Note: --replace does not change the env of the release; use 'rack-gateway env set' first.")
	}
	return runBuild(ctx, x, &o.buildOptions, true)
}

// pollInterval is how often the build's status is read, as upstream. A
// variable so unit tests need not wait.
var pollInterval = time.Second

func runBuild(ctx context.Context, x *kit.Ctx, o *buildOptions, deploy bool) error {
	dir := x.Inv.Cwd
	if len(x.Args) == 1 {
		dir = x.Abs(x.Args[0])
	}
	if dir == "" {
		return kit.UsageErr(x.Cmd, "no directory given and no working directory known; pass the directory to build")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return kit.UsageErr(x.Cmd, "%s is not a directory", dir)
	}
	// A missing manifest would only fail on the rack, after the upload
	// (and, for an API token, after spending its one-upload approval).
	if o.manifest != "" {
		if st, err := os.Stat(filepath.Join(dir, o.manifest)); err != nil || st.IsDir() {
			return kit.UsageErr(x.Cmd, "manifest %s not found in %s", o.manifest, dir)
		}
	}
	var dockerfile []byte
	if o.dockerfile != "" {
		p := x.Abs(o.dockerfile)
		st, err := os.Stat(p)
		if err == nil && !st.IsDir() {
			dockerfile, err = os.ReadFile(p)
		}
		if err != nil || st.IsDir() {
			return kit.UsageErr(x.Cmd, "Dockerfile %s not found", o.dockerfile)
		}
	}
	app, err := resolveApp(x, o.appOption)
	if err != nil {
		return err
	}
	c, t, err := writeClient(ctx, x)
	if err != nil {
		return err
	}
	out := x.Out
	if o.idOnly {
		out = x.Err // stdout carries only the release id
		x.StepsToStderr = true
	}
	b, err := buildApp(ctx, x, c, t, app, dir, o, dockerfile, out)
	if err != nil {
		return err
	}
	if deploy {
		if err := promote(ctx, x, c, app, b.Release); err != nil {
			return err
		}
	} else {
		// Upstream aligns the two ids under each other.
		fmt.Fprintf(out, "Build:   %s\n", b.Id)
		fmt.Fprintf(out, "Release: %s\n", b.Release)
	}
	if o.idOnly {
		_, err = fmt.Fprintln(x.Out, b.Release)
	}
	return err
}

// buildApp runs the upstream build sequence: package, upload, create,
// follow the output, wait for the end. It returns the finished build.
func buildApp(ctx context.Context, x *kit.Ctx, c *rack.Client, t *kit.Target, app, dir string, o *buildOptions, dockerfile []byte, out io.Writer) (*rack.Build, error) {
	var tgz []byte
	pack := func() (string, error) {
		var err error
		if tgz, err = tarball(dir); err == nil && dockerfile != nil {
			tgz, err = withDockerfile(tgz, dockerfile)
		}
		if err != nil {
			return "", ipc.Errorf(ipc.CodeInternal, "cannot package %s: %v", dir, err)
		}
		return "", nil
	}
	if sp := x.Spinner(func(d time.Duration) string { return "Packaging source... " + term.Wait(d) }); sp != nil {
		// On a terminal the packaging spins on stderr first; the step
		// line (stdout, upstream's) follows whole, as after the upload
		// bar, so the two never draw over each other.
		sp.Show()
		_, perr := pack()
		sp.Hide()
		pack = func() (string, error) { return "", perr }
	}
	if err := runStep(x, "Packaging source", pack); err != nil {
		return nil, err
	}
	obj, err := upload(ctx, x, c, app, tgz)
	if err != nil {
		return nil, err
	}
	desc := o.description.val
	if !o.description.set {
		desc = gitDescription(ctx, dir)
	}
	var b *rack.Build
	if err := runStepInline(x, "Starting build", func() (string, error) {
		var err error
		b, err = c.BuildCreate(ctx, app, rack.BuildOptions{
			URL: obj, Description: desc, GitSha: gitSha(ctx, dir), Manifest: o.manifest, NoCache: o.noCache,
		})
		return "", err
	}); err != nil {
		return nil, err
	}
	return follow(ctx, x, c, t, app, b.Id, out)
}

// withDockerfile returns the build context tgz with its root Dockerfile
// replaced by (or, when it has none, added as) content: the -f file.
func withDockerfile(tgz, content []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if path.Clean(h.Name) == "Dockerfile" {
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return nil, err
		}
	}
	h := &tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg, ModTime: time.Now()}
	if err := tw.WriteHeader(h); err != nil {
		return nil, err
	}
	if _, err := tw.Write(content); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// upload uploads the tarball under a random name, as upstream does, so
// concurrent builds never overwrite each other's source.
func upload(ctx context.Context, x *kit.Ctx, c *rack.Client, app string, tgz []byte) (string, error) {
	rnd := make([]byte, 15)
	if _, err := rand.Read(rnd); err != nil {
		return "", ipc.Errorf(ipc.CodeInternal, "%v", err)
	}
	name := hex.EncodeToString(rnd) + ".tgz"
	// On a terminal the line is redrawn in place as a bar with a spinner
	// (which keeps turning while the gateway holds the last byte); it
	// ends as the plain "Uploading source... OK" a log would show.
	var sent, total atomic.Int64
	total.Store(int64(len(tgz)))
	sp := x.Spinner(func(time.Duration) string { return "Uploading source... " + bar(sent.Load(), total.Load()) })
	if sp == nil {
		var u string
		err := runStepInline(x, "Uploading source", func() (string, error) {
			var err error
			u, err = c.ObjectUpload(ctx, app, name, tgz, nil)
			return "", err
		})
		return u, err
	}
	sp.Show()
	u, err := c.ObjectUpload(ctx, app, name, tgz, func(done, all int64) {
		sent.Store(done)
		total.Store(all)
		sp.Redraw()
	})
	// The bar was ours (stderr); the step line is upstream's (stdout).
	sp.Hide()
	if err != nil {
		// Left open, as upstream leaves it: the error ends the line.
		fmt.Fprint(stepOut(x), "Uploading source... ")
		return "", err
	}
	fmt.Fprintln(stepOut(x), "Uploading source... OK")
	return u, nil
}

// bar renders "[=====>    ]  50% 1.0 MB/2.0 MB".
func bar(done, total int64) string {
	const width = 30
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	n := int(frac * width)
	fill := strings.Repeat("=", n)
	if n < width {
		fill += ">" + strings.Repeat(" ", width-n-1)
	}
	return fmt.Sprintf("[%s] %3.0f%% %s/%s", fill, frac*100, size(done), size(total))
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// git runs git in dir and returns its trimmed output; ok is false when
// git fails or is missing, which for a build is normal, not an error.
func git(ctx context.Context, dir string, args ...string) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	b, err := cmd.Output()
	return strings.TrimSpace(string(b)), err == nil
}

// gitDescription is upstream's default description for a clean
// checkout: "build <short sha> <subject>". A dirty tree gets none, as the
// commit would not describe what is built.
func gitDescription(ctx context.Context, dir string) string {
	if _, clean := git(ctx, dir, "diff", "--quiet"); !clean {
		return ""
	}
	if s, ok := git(ctx, dir, "log", "-n", "1", "--pretty=%h %s", "--abbrev=10"); ok && s != "" {
		return "build " + s
	}
	return ""
}

// gitSha is the full commit of dir when it is a git checkout, else "".
// Not being a checkout (or having no git) is normal and not an error.
func gitSha(ctx context.Context, dir string) string {
	if s, ok := git(ctx, dir, "rev-parse", "--verify", "HEAD"); ok {
		return s
	}
	return ""
}

// recorder passes the streamed output through and keeps it, so the
// logs field can fill in whatever the stream did not deliver.
type recorder struct {
	w   io.Writer
	buf bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.buf.Write(p)
	return r.w.Write(p)
}

// follow streams the build's output while polling its status until it
// has ended. The stream is a nicety: when it cannot be opened or breaks,
// the build's logs field supplies what was missed once the build ends.
func follow(ctx context.Context, x *kit.Ctx, c *rack.Client, t *kit.Target, app, id string, out io.Writer) (*rack.Build, error) {
	rec := &recorder{w: out}
	path := "/apps/" + seg(app) + "/builds/" + seg(id) + "/logs"
	if conn, err := openStream(ctx, x, t, path, http.Header{}); err == nil {
		_ = conn.Copy(ctx, rec) // a broken stream is made up for below
		conn.Close()
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var b *rack.Build
	for {
		var err error
		if b, err = c.BuildGet(ctx, app, id); err != nil {
			return nil, err
		}
		if b.Status != "running" && b.Status != "created" {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pollInterval):
		}
	}
	seen := rec.buf.String()
	// Only what the stream missed is printed; a stream that diverged from
	// the stored logs already showed the output in its own way.
	if rest, ok := strings.CutPrefix(b.Logs, seen); ok {
		_, _ = io.WriteString(out, rest)
	}
	switch {
	case b.Status == "failed":
		// Upstream's text; the output above says why.
		return nil, ipc.Errorf(ipc.CodeGateway, "build failed")
	case b.Status != "complete":
		return nil, ipc.Errorf(ipc.CodeGateway, "build %s ended with status %s", id, b.Status)
	case b.Release == "":
		return nil, ipc.Errorf(ipc.CodeGateway, "build %s completed without a release", id)
	}
	return b, nil
}

// runStepInline is runStep for the build's upload and start steps, whose
// failure upstream prints on the step's own line ("Starting build... " then
// the error): the line is left open for the error to end it.
func runStepInline(x *kit.Ctx, text string, fn func() (string, error)) error {
	w := stepOut(x)
	fmt.Fprintf(w, "%s... ", text)
	extra, err := fn()
	if err != nil {
		return err
	}
	if extra != "" {
		fmt.Fprintf(w, "OK, %s\n", extra)
	} else {
		fmt.Fprintln(w, "OK")
	}
	return nil
}
