package statusfile_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/ipc/transport"
	"github.com/rack-gateway/rack-gateway/platform/statusfile"
)

func TestFormatAndParse(t *testing.T) {
	exp := time.Unix(1_700_000_420, 0)
	in := []statusfile.Entry{
		{Rack: "prod", Expires: exp, Email: "admin@example.com", Current: true},
		{Rack: "staging", Email: ""},
	}
	got := string(statusfile.Format(in))
	want := "# rack-gateway status v1\n" +
		"prod 1700000420 admin@example.com 1\n" +
		"staging 0 - 0\n"
	if got != want {
		t.Fatalf("Format:\n%s\nwant:\n%s", got, want)
	}
	back := statusfile.Parse([]byte(got))
	if !reflect.DeepEqual(back, in) {
		t.Fatalf("Parse(Format(x)) = %+v, want %+v", back, in)
	}
}

func TestFormatDropsWhatCannotBeReadBack(t *testing.T) {
	got := string(statusfile.Format([]statusfile.Entry{
		{Rack: ""}, {Rack: "two words"}, {Rack: "#comment"}, {Rack: "nbsp\u00a0x"},
		{Rack: "ok", Email: "a b", Expires: time.Unix(-5, 0)},
	}))
	if want := statusfile.Header + "\nok 0 - 0\n"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestParseIsTolerant(t *testing.T) {
	data := "# rack-gateway status v1\r\n" +
		"\n" +
		"   \n" +
		"# a comment 1 2 3\n" +
		"short 1 x\n" + // too few fields
		"badexp abc x 0\n" +
		"negexp -1 x 0\n" +
		"badcur 0 x yes\n" +
		"prod  1700000000\tme@x 1 extra fields\r\n" + // newer writer, odd spacing
		"last 0 - 0" // no trailing newline
	got := statusfile.Parse([]byte(data))
	want := []statusfile.Entry{
		{Rack: "prod", Expires: time.Unix(1_700_000_000, 0), Email: "me@x", Current: true},
		{Rack: "last"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if got := statusfile.Parse(nil); len(got) != 0 {
		t.Fatalf("Parse(nil) = %+v", got)
	}
}

func TestWriteReadRemove(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, statusfile.FileName)
	if _, err := statusfile.Read(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read of a missing file: %v, want ErrNotExist", err)
	}
	in := []statusfile.Entry{{Rack: "prod", Expires: time.Unix(1_800_000_000, 0), Email: "a@b", Current: true}}
	if err := statusfile.Write(p, in); err != nil {
		t.Fatal(err)
	}
	got, err := statusfile.Read(p)
	if err != nil || !reflect.DeepEqual(got, in) {
		t.Fatalf("Read = %+v, %v; want %+v", got, err, in)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Fatalf("mode %04o, want 0600", m)
		}
	}
	if err := statusfile.Write(p, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after Write(nil) the file should be gone: %v", err)
	}
	if err := statusfile.Write(p, nil); err != nil {
		t.Fatalf("removing a missing file: %v", err)
	}
	// No temporary files are left behind.
	names, _ := os.ReadDir(dir)
	if len(names) != 0 {
		t.Fatalf("left behind: %v", names)
	}
}

// generation builds the i-th content of the concurrency test. Sizes vary
// from one line to several pages, so a torn write would show up as a
// wrong count, a mixed generation or a broken line.
func generation(i int) []statusfile.Entry {
	n := 1 + (i%7)*12
	pad := strings.Repeat("x", 150)
	out := make([]statusfile.Entry, n)
	for j := range out {
		out[j] = statusfile.Entry{
			Rack:    fmt.Sprintf("g%d-r%d-%s", i, j, pad),
			Expires: time.Unix(int64(1_700_000_000+i), 0),
			Email:   fmt.Sprintf("u%d@example.com", j),
			Current: j == i%n,
		}
	}
	return out
}

// checkGeneration reports why entries are not exactly one generation.
func checkGeneration(entries []statusfile.Entry) error {
	if len(entries) == 0 {
		return errors.New("no entries")
	}
	g, _, ok := strings.Cut(strings.TrimPrefix(entries[0].Rack, "g"), "-")
	i, err := strconv.Atoi(g)
	if !ok || err != nil {
		return fmt.Errorf("bad first rack %q", entries[0].Rack)
	}
	if want := generation(i); !reflect.DeepEqual(entries, want) {
		return fmt.Errorf("generation %d: got %d entries, want %d (torn or mixed)", i, len(entries), len(want))
	}
	return nil
}

// A reader looping on Read while a writer replaces the file 1,000 times
// must always get one complete generation: never a missing, empty, partial
// or mixed file.
func TestConcurrentReadersNeverSeePartialFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), statusfile.FileName)
	if err := statusfile.Write(p, generation(0)); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				entries, err := statusfile.Read(p)
				if err != nil && runtime.GOOS == "windows" {
					continue // a sharing violation during the rename; see rename
				}
				if err == nil {
					err = checkGeneration(entries)
				}
				if err != nil {
					errs <- fmt.Errorf("read %d: %w", reads.Load(), err)
					return
				}
				reads.Add(1)
			}
		}()
	}
	for i := 1; i <= 1000; i++ {
		if err := statusfile.Write(p, generation(i)); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if reads.Load() < 20 {
		t.Errorf("only %d reads overlapped the writes; the test proves little", reads.Load())
	}
	t.Logf("%d consistent reads during 1000 writes", reads.Load())
}

// Path must name the file in the directory where the agent's socket lives,
// without creating that directory.
func TestPathMatchesRuntimeDir(t *testing.T) {
	cases := map[string]string{"xdg": t.TempDir(), "no-xdg": "", "relative-xdg": "relative/dir"}
	for name, xdg := range cases {
		t.Run(name, func(t *testing.T) {
			// A fresh base per case, so "Path created nothing" is checkable.
			if runtime.GOOS == "windows" {
				t.Setenv("LocalAppData", t.TempDir())
			} else {
				t.Setenv("TMPDIR", t.TempDir())
			}
			if xdg != "" && filepath.IsAbs(xdg) {
				xdg = t.TempDir()
			}
			t.Setenv("XDG_RUNTIME_DIR", xdg)
			p, err := statusfile.Path()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Dir(p)); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Path created or found %s (%v); it must only compute it", filepath.Dir(p), err)
			}
			dir, err := transport.RuntimeDir()
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, statusfile.FileName); p != want {
				t.Fatalf("Path() = %s, want %s", p, want)
			}
		})
	}
}

func BenchmarkRead(b *testing.B) {
	p := filepath.Join(b.TempDir(), statusfile.FileName)
	if err := statusfile.Write(p, generation(3)[:3]); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := statusfile.Read(p); err != nil {
			b.Fatal(err)
		}
	}
}
