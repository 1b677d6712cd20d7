package convox_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/convox"
	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// apps create waits for the new app to run before its OK; --lock leaves
// it protected, so deleting it is refused by the rack until unlocked.
func TestAppsCreateLockUnlock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wantOut(t, e.Run("apps", "create", "fresh", "--generation", "3"), "Creating fresh... OK\n")
	r := e.MustRun("apps", "info", "fresh")
	wantOut(t, r, "Status      running", "Generation  3", "Locked      false")
	wantErr(t, e.Run("apps", "create", "fresh"), ipc.CodeGateway, "app already exists: fresh")
	wantErr(t, e.Run("apps", "create"), ipc.CodeUsage, "apps create requires an app name")

	wantOut(t, e.Run("apps", "create", "guarded", "--lock"), "Creating guarded... OK\n")
	wantOut(t, e.MustRun("apps", "info", "guarded"), "Locked      true")
	e.Sandbox.SetAllowDestructiveActions(true)
	wantErr(t, e.Run("apps", "delete", "guarded"), ipc.CodeGateway, "app is locked: guarded")

	// lock and unlock take the app as an argument, -a or the directory.
	wantOut(t, e.Run("apps", "unlock", "guarded"), "Unlocking guarded... OK\n")
	wantOut(t, e.Run("apps", "lock", "-a", "fresh"), "Locking fresh... OK\n")
	wantOut(t, e.MustRun("apps", "info", "fresh"), "Locked      true")
	e.Vars["CONVOX_APP"] = "fresh"
	wantOut(t, e.Run("apps", "unlock"), "Unlocking fresh... OK\n")
	wantOut(t, e.Run("apps", "delete", "guarded"), "Deleting guarded... OK")
	wantErr(t, e.Run("apps", "lock", "ghost"), ipc.CodeNotFound, "no such app: ghost")
}

// The writes need a step-up: without a window and a terminal the command
// stops with the step-up exit, and nothing changed on the rack.
func TestAppsManageWritesNeedStepUp(t *testing.T) {
	t.Parallel()
	e := kittest.New(t, admin, false, convox.Register)
	for _, argv := range [][]string{
		{"apps", "create", "nope"}, {"apps", "lock", app}, {"apps", "params", "set", "BuildCpu=1", "-a", app},
	} {
		if r := e.Run(argv...); r.Error == nil || r.Error.Code != ipc.CodeStepUpRequired {
			t.Errorf("%q: %s", argv, r)
		}
	}
	if e.Sandbox.Rack().HasApp("nope") {
		t.Error("apps create went through without MFA")
	}
	// Reads do not.
	e.MustRun("apps", "params", app)
	e.MustRun("ps", "info", convoxfake.SeedWebPID, "-a", app)
	// With a code on the terminal the write goes through after one prompt.
	term := &kittest.Term{Answers: []string{e.Sandbox.BackupCodes(admin)[0]}}
	r := e.RunWith(term, "apps", "lock", app)
	if r.Error != nil || len(r.Prompts) != 1 || !strings.Contains(r.Out, "Locking "+app+"... OK") {
		t.Fatalf("apps lock after a prompt: %s (prompts %q)", r, r.Prompts)
	}
}

// apps params lists the parameters sorted by name, aligned as an info
// block; params set prints upstream's two lines (the wait for the app
// comes between them) and the rack then shows the new value.
func TestAppsParams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.MustRun("apps", "params", app)
	if r.Out != "BuildCpu     256\nBuildLabels  \nBuildMem     1024\n" {
		t.Fatalf("apps params:\n%q", r.Out)
	}
	var params map[string]string
	decode(t, e.Run("apps", "params", "-a", app, "--output", "json"), &params)
	if params["BuildMem"] != "1024" || len(params) != 3 {
		t.Fatalf("apps params --output json: %v", params)
	}

	r = e.MustRun("apps", "params", "set", "BuildCpu=512", "BuildLabels=a=b", "-a", app)
	if r.Out != "Updating parameters... \nOK\n" {
		t.Fatalf("apps params set:\n%q", r.Out)
	}
	wantOut(t, e.MustRun("apps", "params", app), "BuildCpu     512\n", "BuildLabels  a=b\n")

	wantErr(t, e.Run("apps", "params", "set", "BuildCpu", "-a", app), ipc.CodeUsage, "Key=Value expected: BuildCpu")
	wantErr(t, e.Run("apps", "params", "set", "-a", app), ipc.CodeUsage, "apps params set requires a Key=Value pair")
	wantErr(t, e.Run("apps", "params", "ghost"), ipc.CodeNotFound, "no such app: ghost")
}

func TestPsInfo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wantOut(t, e.Run("ps", "info", convoxfake.SeedWebPID, "-a", app), ""+
		"Id        "+convoxfake.SeedWebPID+"\n"+
		"App       "+app+"\n"+
		"Command   \n"+
		"Instance  i-0a1b2c3d4e5f60718\n"+
		"Release   "+convoxfake.SeedReleaseID+"\n"+
		"Service   web\n"+
		"Started   1 hour ago\n"+
		"Status    running\n")
	var p struct{ Id, Name, Instance string }
	decode(t, e.Run("ps", "info", convoxfake.SeedWorkerPID, "-a", app, "--output", "json"), &p)
	if p.Id != convoxfake.SeedWorkerPID || p.Name != "worker" {
		t.Fatalf("ps info --output json: %+v", p)
	}
	wantErr(t, e.Run("ps", "info", "web-nosuch", "-a", app), ipc.CodeNotFound, "no such process: web-nosuch")
	wantErr(t, e.Run("ps", "info", "-a", app), ipc.CodeUsage, "ps info requires a process id")
}

// An export goes to stdout (step line on stderr) or, with -f, into a
// file (step line on stdout); importing it elsewhere prints upstream's
// "OK, <release>", and --id prints only the release.
func TestBuildsExportImport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.MustRun("builds", "export", convoxfake.SeedBuildID, "-a", app)
	if !bytes.HasPrefix([]byte(r.Out), []byte{0x1f, 0x8b}) || r.Err != "Exporting build... OK\n" {
		t.Fatalf("export to stdout: %d bytes, stderr %q", len(r.Out), r.Err)
	}
	file := filepath.Join(e.Cwd, "build.tgz")
	wantOut(t, e.Run("builds", "export", convoxfake.SeedBuildID, "-a", app, "-f", "build.tgz"), "Exporting build... OK\n")
	data, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(data, []byte(r.Out)) {
		t.Fatalf("exported file: %v, %d bytes, stdout had %d", err, len(data), len(r.Out))
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("export mode %v", st.Mode().Perm())
	}
	// A failed export leaves no file behind.
	wantErr(t, e.Run("builds", "export", "BNOPE", "-a", app, "-f", "nope.tgz"), ipc.CodeNotFound, "no such build: BNOPE")
	if entries, _ := os.ReadDir(e.Cwd); len(entries) != 1 {
		t.Errorf("files after a failed export: %v", entries)
	}

	e.MustRun("apps", "create", "copy")
	r = e.MustRun("builds", "import", "-a", "copy", "-f", "build.tgz")
	if !strings.HasPrefix(r.Out, "Importing build... OK, R") {
		t.Fatalf("import: %s", r)
	}
	rel := strings.TrimSpace(strings.TrimPrefix(r.Out, "Importing build... OK, "))
	wantOut(t, e.MustRun("releases", "info", rel, "-a", "copy"), "Build        B")
	// From stdin, the file as an argument, and --id.
	r = e.RunWith(&kittest.Term{In: bytes.NewReader(data)}, "builds", "import", "-a", "copy", "--id")
	if r.Error != nil || !strings.HasPrefix(r.Out, "R") || strings.Count(r.Out, "\n") != 1 || !strings.HasPrefix(r.Err, "Importing build... OK, R") {
		t.Fatalf("import --id from stdin: %s", r)
	}
	wantOut(t, e.Run("builds", "import", "build.tgz", "-a", "copy"), "Importing build... OK, R")
}

func TestBuildsTransferRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A terminal gets no tarball, nor is one read from it.
	tty := &kittest.Term{TTYs: ipc.TTYState{Stdin: true, Stdout: true, Stderr: true}}
	r := e.RunWith(tty, "builds", "export", convoxfake.SeedBuildID, "-a", app)
	wantErr(t, r, ipc.CodeUsage, "pipe this command into a file or specify --file")
	tty = &kittest.Term{TTYs: ipc.TTYState{Stdin: true, Stdout: true, Stderr: true}}
	wantErr(t, e.RunWith(tty, "builds", "import", "-a", app), ipc.CodeUsage, "pipe a file into this command or specify --file")

	// What is not an export is refused before anything is sent.
	if err := os.WriteFile(filepath.Join(e.Cwd, "notes.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.Run("builds", "import", "notes.txt", "-a", app), ipc.CodeUsage, "notes.txt is not a build export")
	wantErr(t, e.Run("builds", "import", "-a", app), ipc.CodeUsage, "stdin is empty")
	wantErr(t, e.Run("builds", "import", "missing.tgz", "-a", app), ipc.CodeUsage, "cannot read the build export")
	wantErr(t, e.Run("builds", "import", "a.tgz", "-f", "b.tgz", "-a", app), ipc.CodeUsage, "name the file once")
	wantErr(t, e.Run("builds", "export", "-a", app), ipc.CodeUsage, "builds export requires a build id")
}
