package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// bldWrite creates files (relative path → content) under dir.
func bldWrite(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// bldIDs pulls the build and release ids out of build's stdout.
func bldIDs(t *testing.T, r result) (string, string) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^Build:   (B[A-Z0-9]+)\nRelease: (R[A-Z0-9]+)\n\z`).FindStringSubmatch(r.Out)
	if m == nil {
		t.Fatalf("no build/release ids at the end of stdout: %s", r)
	}
	return m[1], m[2]
}

// bldSource reads the source a build was uploaded with back from the
// sandbox and returns the archive's regular files. The rack's export
// (builds/{id}.tgz) holds images, not source, so only the sandbox can
// show what the CLI packaged.
func bldSource(t *testing.T, e *env, app, id string) map[string][]byte {
	t.Helper()
	resp, err := http.Get(e.sb.URL + "/_sandbox/build-source?app=" + url.QueryEscape(app) + "&id=" + url.QueryEscape(id))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("source of %s: %s", id, resp.Status)
	}
	gz, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("export of %s is not gzip: %v", id, err)
	}
	tr := tar.NewReader(gz)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("export of %s: %v", id, err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			files[h.Name] = b
		}
	}
	return files
}

func bldNames(files map[string][]byte) []string {
	var out []string
	for n := range files {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

const bldSteps = "Packaging source... OK\nUploading source... OK\nStarting build... OK\n"

func TestBuildDockerignore(t *testing.T) {
	t.Parallel()
	e, _ := convoxEnv(t, admin)
	dir := t.TempDir()
	bldWrite(t, dir, map[string]string{
		".dockerignore":           "# generated files\n*.log\n!keep.log\nsecret/\n**/tmp\n/node_modules\nDockerfile.*\n",
		"Dockerfile":              "FROM scratch\n",
		"Dockerfile.dev":          "FROM dev\n",
		"convox.yml":              "services:\n  web:\n    build: .\n",
		"main.go":                 "package main\n",
		"debug.log":               "noise\n",
		"keep.log":                "wanted\n",
		"secret/key":              "hunter2\n",
		"src/app.go":              "package src\n",
		"src/trace.log":           "noise\n",
		"src/tmp/cache":           "x\n",
		"tmp/scratch":             "x\n",
		"node_modules/m/index.js": "x\n",
	})
	r := e.runIn(dir, "build", "-a", "demo", "--description", "ignore test")
	if r.Code != 0 {
		t.Fatalf("build: %s", r)
	}
	if !strings.HasPrefix(r.Out, bldSteps) {
		t.Errorf("step lines:\n%q\nwant first\n%q", r.Out, bldSteps)
	}
	contains(t, "build output", r.Out, "Step 1/3 : FROM sandbox/base:latest\n", "Build complete: B")
	id, rel := bldIDs(t, r)

	got := strings.Join(bldNames(bldSource(t, e, "demo", id)), " ")
	// As in Docker, "*.log" is anchored at the context root: src/trace.log
	// stays, while "**/tmp" reaches tmp at any depth, the root included.
	want := ".dockerignore Dockerfile convox.yml keep.log main.go src/app.go src/trace.log"
	if got != want {
		t.Errorf("tarball holds\n%s\nwant\n%s", got, want)
	}
	r = e.mustRun("builds", "info", id, "-a", "demo", "--output", "json")
	contains(t, "builds info", r.Out, `"status": "complete"`, `"release": "`+rel+`"`, `"description": "ignore test"`)
	// build alone does not promote.
	if a := e.mustRun("apps", "info", "demo"); strings.Contains(a.Out, rel) {
		t.Errorf("build promoted %s:\n%s", rel, a.Out)
	}
}

func TestBuildDeployPromotes(t *testing.T) {
	t.Parallel()
	e, _ := convoxEnv(t, admin)
	parent := t.TempDir()
	bldWrite(t, parent, map[string]string{"site/Dockerfile": "FROM scratch\n", "site/index.html": "hi\n"})
	// A relative dir is resolved against the caller's directory.
	r := e.runIn(parent, "deploy", "site", "-a", "demo")
	if r.Code != 0 {
		t.Fatalf("deploy: %s", r)
	}
	if !strings.HasPrefix(r.Out, bldSteps) {
		t.Errorf("deploy progress:\n%s", r.Err)
	}
	m := regexp.MustCompile(`Promoting (R[A-Z0-9]+)\.\.\. \nOK\n`).FindStringSubmatch(r.Out)
	if m == nil {
		t.Fatalf("deploy did not promote: %s", r)
	}
	contains(t, "deploy output", r.Out, "Step 3/3", "Build complete: B")
	if strings.Contains(r.Out, "Release: ") {
		t.Errorf("deploy prints the ids as build does, upstream does not:\n%s", r.Out)
	}
	if a := e.mustRun("apps", "info", "demo"); !strings.Contains(a.Out, "Release     "+m[1]) {
		t.Errorf("the app is not on %s:\n%s", m[1], a.Out)
	}
	matches(t, "releases", e.mustRun("releases", "-a", "demo").Out, `(?m)^`+m[1]+`\s+active\s+B`)
}

func TestBuildLargeUpload(t *testing.T) {
	t.Parallel()
	e, _ := convoxEnv(t, admin)
	dir := t.TempDir()
	big := make([]byte, 2<<20)
	if _, err := rand.Read(big); err != nil { // incompressible: the tarball stays > 2 MB
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "blob.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	// --id (as upstream): stdout is only the release id, for scripts.
	r := e.run("build", dir, "-a", "demo", "--id")
	if r.Code != 0 {
		t.Fatalf("build: %s", r)
	}
	matches(t, "build --id stdout", r.Out, `^R[A-Z0-9]+\n$`)
	m := regexp.MustCompile(`Build:   (B[A-Z0-9]+)\nRelease: (R[A-Z0-9]+)\n`).FindStringSubmatch(r.Err)
	if m == nil || m[2]+"\n" != r.Out {
		t.Fatalf("--id: the ids belong on stderr and the release alone on stdout: %s", r)
	}
	id := m[1]
	if files := bldSource(t, e, "demo", id); !bytes.Equal(files["blob.bin"], big) {
		t.Errorf("blob.bin came back with %d bytes, want the 2 MB sent", len(files["blob.bin"]))
	}
}

// TestBuildProgressOnlyOnTerminal: a person at a terminal sees a bar; a
// log (stderr not a terminal) gets the same plain lines, no bar.
func TestBuildProgressOnlyOnTerminal(t *testing.T) {
	t.Parallel()
	e, _ := convoxEnv(t, admin)
	dir := t.TempDir()
	bldWrite(t, dir, map[string]string{"Dockerfile": "FROM scratch\n"})

	p := e.startPTY("build in a pty", "build", dir, "-a", "demo")
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("build in a pty: exit %d\n%s", code, p.Output())
	}
	out := p.Output()
	contains(t, "pty", out, "Uploading source... [", "100%", "Uploading source... OK\r\n", "Starting build... OK", "Build:   B")

	r := e.run("build", dir, "-a", "demo")
	if r.Code != 0 {
		t.Fatalf("plain build: %s", r)
	}
	if !strings.HasPrefix(r.Out, bldSteps) || r.Err != "" {
		t.Errorf("plain run: stdout\n%q\nwant first\n%q\nstderr %q", r.Out, bldSteps, r.Err)
	}
	if strings.ContainsAny(r.Err+r.Out, "\r\x1b") || strings.Contains(r.Err, "%") {
		t.Errorf("progress bar outside a terminal: %s", r)
	}
}

func TestBuildMissingManifest(t *testing.T) {
	t.Parallel()
	e, sb := convoxEnv(t, admin)
	dir := t.TempDir()
	bldWrite(t, dir, map[string]string{"Dockerfile": "FROM scratch\n"})
	before := len(e.mustRun("builds", "-a", "demo", "--output", "json").Out)
	r := e.runIn(dir, "build", "-a", "demo", "--manifest", "convox.prod.yml")
	fails(t, r, 2, "convox.prod.yml not found")
	if strings.Contains(r.Err, "Packaging") {
		t.Errorf("progress before the usage error: %s", r)
	}
	for route, n := range sb.requests(t) {
		if strings.Contains(route, "/objects/") || strings.HasSuffix(route, "/builds") && strings.HasPrefix(route, "POST") {
			t.Errorf("%s was called %d times for a build refused locally", route, n)
		}
	}
	if after := len(e.mustRun("builds", "-a", "demo", "--output", "json").Out); after != before {
		t.Errorf("a build was created")
	}
	fails(t, e.run("deploy", filepath.Join(dir, "nope"), "-a", "demo"), 2, "is not a directory")
}

// TestBuildCIDeployWithApproval is the CI story end to end: a cicd token
// gets an approval for a commit, deploys that commit once, and cannot
// deploy it again.
func TestBuildCIDeployWithApproval(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	adm := newEnv(t)
	adm.sb = sb
	adm.login("prod", admin)
	r := adm.mustRun("api-token", "create", "--name", "ci-deploy", "--role", "cicd", "--output", "token",
		"--mfa-code", totpCodes.next(t, sb, admin))
	secret := strings.TrimSpace(r.Out)

	repo := t.TempDir()
	bldWrite(t, repo, map[string]string{"Dockerfile": "FROM scratch\n", "app.txt": "v1\n", ".dockerignore": ".git\n"})
	git := func(args ...string) string {
		t.Helper()
		c := exec.Command("git", append([]string{"-c", "user.email=ci@example.com", "-c", "user.name=CI",
			"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
		c.Dir = repo
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "first")
	sha := git("rev-parse", "HEAD")

	ci := newEnv(t)
	ci.sb = sb
	ci.set("RACK_GATEWAY_API_TOKEN", secret)
	ci.set("RACK_GATEWAY_URL", sb.URL)
	ci.set("RACK_GATEWAY_RACK", "prod")

	// Without an approval the token may not deploy.
	fails(t, ci.runIn(repo, "deploy", "-a", "demo"), 1, "Error: permission denied\n")

	r = ci.mustRun("deploy-approval", "request", "--app", "demo", "--message", "Deploy "+sha[:7], "--git-commit", sha)
	m := regexp.MustCompile(`request ([0-9a-f-]{36}) created`).FindStringSubmatch(r.Out)
	if m == nil {
		t.Fatalf("request: %s", r)
	}
	adm.mustRun("deploy-approval", "approve", m[1], "--mfa-code", totpCodes.next(t, sb, admin))

	r = ci.runIn(repo, "deploy", "-a", "demo")
	if r.Code != 0 {
		t.Fatalf("approved deploy: %s", r)
	}
	contains(t, "ci deploy", r.Out, bldSteps, "Promoting R")
	pm := regexp.MustCompile(`Promoting (R[A-Z0-9]+)\.\.\. \nOK\n`).FindStringSubmatch(r.Out)
	if pm == nil {
		t.Fatalf("ci deploy did not promote: %s", r)
	}
	if a := adm.mustRun("apps", "info", "demo"); !strings.Contains(a.Out, "Release     "+pm[1]) {
		t.Errorf("the app is not on %s:\n%s", pm[1], a.Out)
	}
	// The build carries the commit the approval was matched on.
	r = adm.mustRun("builds", "-a", "demo", "--limit", "1", "--output", "json")
	contains(t, "ci build", r.Out, `"git-sha": "`+sha+`"`, `"description": "build `+sha[:10]+` first"`)
	r = adm.mustRun("deploy-approval", "show", m[1])
	contains(t, "approval after deploy", r.Out, "deployed")

	// The approval is spent: a second deploy of the same commit is refused
	// by the gateway, and the refusal is the server's own text.
	r = ci.runIn(repo, "deploy", "-a", "demo")
	if r.Code == 0 {
		t.Fatalf("second deploy of %s succeeded: %s", sha, r)
	}
	// The sandbox, like the gateway, answers the upload of a token whose
	// approvals are all spent with its plain 403 text.
	// The refusal ends the step's line, as upstream prints it.
	if !strings.HasSuffix(r.Out, "Uploading source... ") {
		t.Errorf("second deploy: stdout %q, want the upload line left open for the error", r.Out)
	}
	contains(t, "second deploy", r.Err, "Error: permission denied\n")
	if strings.Contains(r.Err, "Starting build") {
		t.Errorf("a build was started after the refused upload: %s", r)
	}
}

// TestBuildStepUpOnItsOwnLine: a session whose step-up window has closed
// is asked once, when the build request (the first step-up request) is
// refused for lack of MFA; the prompt starts on its own line, and a
// --mfa-code is spent once for all of the build's step-up requests.
func TestBuildStepUpOnItsOwnLine(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	dir := t.TempDir()
	bldWrite(t, dir, map[string]string{"Dockerfile": "FROM scratch\n"})

	// A new agent knows nothing of the window: the build request goes
	// without a proof, and its refusal brings the prompt. stopAgent
	// returns once the old agent is gone, so the build cannot reach an
	// agent that is still shutting down.
	e.stopAgent()
	p := e.startPTY("build needing step-up", "build", dir, "-a", "demo")
	p.waitText("Enter TOTP code:", 10*time.Second)
	if out := p.Output(); !strings.Contains(out, "Starting build... \r\nStep-up MFA required for this operation.\r\n") {
		t.Fatalf("the prompt did not start on its own line:\n%q", out)
	}
	p.typeSecret(totpCodes.next(t, sb, admin))
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.Output())
	}
	out := p.Output()
	if strings.Count(out, "Enter TOTP code:") != 1 || strings.Count(out, "Starting build... OK") != 1 {
		t.Errorf("want one prompt and the build line completed once:\n%s", out)
	}
	contains(t, "pty build", out, "Starting build... OK", "Build:   B")

	sb.expireStepUp(t, admin)
	e.stopAgent()
	r := e.run("deploy", dir, "-a", "demo", "--mfa-code", totpCodes.next(t, sb, admin))
	if r.Code != 0 {
		t.Fatalf("deploy with --mfa-code: %s", r)
	}
	contains(t, "deploy --mfa-code", r.Out, bldSteps, "Promoting R")
}
