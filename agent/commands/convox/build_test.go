package convox_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/convox"
	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// sourceDir is a small app directory under a fresh temporary one.
func sourceDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "src")
	files := map[string]string{"convox.yml": "services:\n  web:\n    build: .\n", "Dockerfile": "FROM scratch\n", "main.go": "package main\n"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// buildOf returns the build and release ids build printed.
func buildOf(t *testing.T, r kittest.Result) (string, string) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^Build:   (B\w+)\nRelease: (R\w+)$`).FindStringSubmatch(r.Out)
	if m == nil {
		t.Fatalf("no build and release ids in:\n%s", r)
	}
	return m[1], m[2]
}

type buildInfo struct {
	Description, Release, Manifest string
	GitSha                         string `json:"git-sha"`
}

func getBuild(t *testing.T, e *kittest.Env, id string) buildInfo {
	t.Helper()
	var b buildInfo
	decode(t, e.Run("builds", "info", id, "-a", app, "--output", "json"), &b)
	return b
}

// build packages, uploads and builds, printing the steps and the build's
// output on stdout, then both ids; it does not promote.
func TestBuild(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := sourceDir(t)
	r := e.Run("build", dir, "-a", app, "--description", "by hand", "-m", "convox.yml", "--no-cache")
	wantOut(t, r, "Packaging source... OK\nUploading source... OK\nStarting build... OK\n", "Step 1/3 : FROM sandbox/base:latest\n")
	id, rel := buildOf(t, r)
	if b := getBuild(t, e, id); b.Description != "by hand" || b.Release != rel || b.GitSha != "" {
		t.Fatalf("the build: %+v", b)
	}
	if got := appRelease(t, e); got == rel {
		t.Fatal("build promoted its release")
	}
	// A relative directory is the caller's, not the agent's.
	e.Cwd = filepath.Dir(dir)
	buildOf(t, e.Run("build", "src", "-a", app))
}

// --id keeps stdout for the release id alone; the steps go to stderr.
func TestBuildID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.Run("build", "--id", sourceDir(t), "-a", app)
	if r.Error != nil || !regexp.MustCompile(`^R\w+\n$`).MatchString(r.Out) {
		t.Fatalf("build --id: %s", r)
	}
	if !strings.Contains(r.Err, "Starting build... OK") || !strings.Contains(r.Err, "Release: R") {
		t.Errorf("stderr:\n%s", r.Err)
	}
}

// deploy is build plus promote.
func TestDeploy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.Run("deploy", sourceDir(t), "-a", app)
	m := regexp.MustCompile(`\nPromoting (R\w+)\.\.\. \nOK\n$`).FindStringSubmatch(r.Out)
	if r.Error != nil || m == nil {
		t.Fatalf("deploy: %s", r)
	}
	if got := appRelease(t, e); got != m[1] {
		t.Fatalf("after deploy the app runs %s, want %s", got, m[1])
	}
}

// sourceOf is the build context the rack stored for build id, by name.
func sourceOf(t *testing.T, e *kittest.Env, id string) map[string]string {
	t.Helper()
	tgz, ok := e.Sandbox.Rack().BuildSource(app, id)
	if !ok {
		t.Fatalf("no source stored for build %s", id)
	}
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = string(b)
	}
}

// -f/--file names the Dockerfile: it is packaged as the context's
// Dockerfile, in place of the one there (or where there is none); the rest
// of the context is unchanged. A missing one fails before the upload.
func TestBuildDockerfileFlag(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := sourceDir(t)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile.prod"), []byte("FROM prod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.Cwd = dir
	id, _ := buildOf(t, e.MustRun("build", "-f", "Dockerfile.prod", "-a", app))
	src := sourceOf(t, e, id)
	if src["Dockerfile"] != "FROM prod\n" || src["Dockerfile.prod"] != "FROM prod\n" || src["main.go"] != "package main\n" {
		t.Fatalf("build -f Dockerfile.prod packaged %v", src)
	}
	id, _ = buildOf(t, e.MustRun("build", dir, "-a", app))
	if src := sourceOf(t, e, id); src["Dockerfile"] != "FROM scratch\n" {
		t.Fatalf("build without -f packaged Dockerfile %q", src["Dockerfile"])
	}
	var before, after []struct{ Id string }
	decode(t, e.Run("builds", "-a", app, "--output", "json"), &before)
	r := e.Run("build", "--file", "Dockerfile.nope", "-a", app)
	wantErr(t, r, ipc.CodeUsage, "Dockerfile Dockerfile.nope not found")
	decode(t, e.Run("builds", "-a", app, "--output", "json"), &after)
	if len(after) != len(before) || r.Out != "" {
		t.Errorf("a missing -f file still started a build:\n%s", r)
	}
}

// deploy takes build's -f and upstream's --wait (it always waits) and
// --replace, which upstream passes on to code that never reads it: the
// deploy goes ahead, the env unchanged, and stderr says so.
func TestDeployFlags(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := sourceDir(t)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile.prod"), []byte("FROM prod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := rackEnv(t, e)
	r := e.Run("deploy", dir, "-a", app, "--wait", "-f", filepath.Join(dir, "Dockerfile.prod"), "--replace", "FOO=changed")
	m := regexp.MustCompile(`\nPromoting (R\w+)\.\.\. \nOK\n$`).FindStringSubmatch(r.Out)
	if r.Error != nil || m == nil {
		t.Fatalf("deploy --wait -f --replace: %s", r)
	}
	if got := appRelease(t, e); got != m[1] {
		t.Fatalf("after deploy the app runs %s, want %s", got, m[1])
	}
	if env := rackEnv(t, e); env["FOO"] != before["FOO"] {
		t.Errorf("--replace changed FOO to %q", env["FOO"])
	}
	if !strings.Contains(r.Err, "--replace does not change the env") {
		t.Errorf("no notice about --replace on stderr:\n%s", r.Err)
	}
	var bs []struct{ Id string }
	decode(t, e.Run("builds", "-l", "1", "-a", app, "--output", "json"), &bs)
	if src := sourceOf(t, e, bs[0].Id); src["Dockerfile"] != "FROM prod\n" {
		t.Errorf("deploy -f packaged Dockerfile %q", src["Dockerfile"])
	}
}

// The directory and the manifest are checked before anything is sent.
func TestBuildChecksItsArguments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := sourceDir(t)
	wantErr(t, e.Run("build", dir, "-a", app, "--manifest", "nope.yml"), ipc.CodeUsage, "manifest nope.yml not found in "+dir)
	wantErr(t, e.Run("deploy", filepath.Join(dir, "main.go"), "-a", app), ipc.CodeUsage, "is not a directory")
	wantErr(t, e.Run("build", dir, "extra", "-a", app), ipc.CodeUsage, "too many arguments")
	var bs []struct{ Id string }
	decode(t, e.Run("builds", "-a", app, "--output", "json"), &bs)
	if len(bs) != 1 {
		t.Fatalf("a refused build reached the rack: %+v", bs)
	}
}

// In a clean git checkout the commit is the build's git-sha and describes
// it; an explicit --description, even an empty one, wins.
func TestBuildFromGit(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	e := newEnv(t)
	dir := sourceDir(t)
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "first commit")
	sha := git("rev-parse", "HEAD")
	id, _ := buildOf(t, e.Run("build", dir, "-a", app))
	b := getBuild(t, e, id)
	if b.GitSha != sha || b.Description != "build "+sha[:10]+" first commit" {
		t.Fatalf("build from git: %+v, want sha %s", b, sha)
	}
	id, _ = buildOf(t, e.Run("build", dir, "-a", app, "-d", ""))
	if b := getBuild(t, e, id); b.Description != "" || b.GitSha != sha {
		t.Fatalf("build -d '': %+v", b)
	}
}

// A refused upload leaves "Uploading source... " open on stdout, as
// upstream does, so the error ends that same line.
func TestBuildErrorEndsTheStepLine(t *testing.T) {
	t.Parallel()
	viewer := kittest.New(t, "viewer@example.com", true, convox.Register)
	r := viewer.Run("build", sourceDir(t), "-a", app)
	if r.Error == nil || r.Out != "Packaging source... OK\nUploading source... " {
		t.Fatalf("viewer build: stdout %q, %s", r.Out, r)
	}
}
