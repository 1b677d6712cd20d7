package crash_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/crash"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A panic in a goroutine started through Go is logged at error level with
// its stack, the goroutine's own defers run, and onPanic is called; the
// test binary living on is the proof that the process survived it.
func TestGoSurvivesAPanic(t *testing.T) {
	var buf lockedBuf
	crash.SetLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	deferred, ended := make(chan struct{}), make(chan struct{})
	crash.Go("test reader", func() {
		defer close(deferred)
		var s []int
		_ = s[len(s)] // an index out of range: a real runtime panic
	}, func() { close(ended) })
	<-deferred
	<-ended
	log := buf.String()
	for _, want := range []string{"level=ERROR", "goroutine=\"test reader\"", "index out of range", "crash_test.go"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// bareGo lists the go statements the agent may keep, each with why a
// panic there cannot be a command's bug.
var bareGo = map[string]string{
	"crash/crash.go": "Go itself",
	"main.go":        "the server's Serve loop: net/http recovers its handlers",
}

// Every goroutine under agent/ starts through crash.Go, so no command's
// bug can end the agent. A new bare go statement fails here.
func TestNoBareGoStatements(t *testing.T) {
	root := ".."
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if strings.Contains(rel, "kittest") {
			return nil // test support
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if g, ok := n.(*ast.GoStmt); ok {
				if _, allowed := bareGo[filepath.ToSlash(rel)]; !allowed {
					t.Errorf("%s: a bare go statement; start it with crash.Go so a panic in it cannot end the agent", fset.Position(g.Pos()))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
