package convox

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// rule is one .dockerignore line, split into slash-separated segments
// so "**" can be matched segment by segment (filepath.Match alone never
// crosses a "/").
type rule struct {
	segs   []string
	negate bool
}

// ignore is a parsed .dockerignore. As in Docker, the last rule that
// matches a path decides, and a rule that matches a directory also
// matches everything below it.
type ignore struct {
	rules    []rule
	negation bool // any "!" rule: excluded directories must still be walked
}

// readIgnore reads dir/.dockerignore; a missing file ignores nothing.
func readIgnore(dir string) (*ignore, error) {
	ig := &ignore{}
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if os.IsNotExist(err) {
		return ig, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ig.add(sc.Text())
	}
	return ig, sc.Err()
}

func (ig *ignore) add(line string) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return
	}
	r := rule{}
	if rest, ok := strings.CutPrefix(line, "!"); ok {
		r.negate, line = true, strings.TrimSpace(rest)
		ig.negation = true
	}
	// Docker cleans patterns and treats them as relative to the context
	// root, so "/tmp", "./tmp" and "tmp/" are all the same rule.
	line = path.Clean(filepath.ToSlash(line))
	line = strings.TrimPrefix(line, "/")
	if line == "" || line == "." {
		return
	}
	r.segs = strings.Split(line, "/")
	ig.rules = append(ig.rules, r)
}

// excluded reports whether rel (slash-separated, relative to the context)
// is left out of the tarball.
func (ig *ignore) excluded(rel string) bool {
	segs := strings.Split(rel, "/")
	out := false
	for _, r := range ig.rules {
		if matchPrefix(r.segs, segs) {
			out = !r.negate
		}
	}
	return out
}

// matchPrefix reports whether the pattern matches path or one of its
// parent directories: ignoring "node_modules" ignores its contents too.
func matchPrefix(pat, segs []string) bool {
	for n := len(segs); n >= 1; n-- {
		if match(pat, segs[:n]) {
			return true
		}
	}
	return false
}

// match matches whole segment lists; "**" stands for any number of
// segments, including none.
func match(pat, segs []string) bool {
	if len(pat) == 0 {
		return len(segs) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(segs); i++ {
			if match(pat[1:], segs[i:]) {
				return true
			}
		}
		return false
	}
	if len(segs) == 0 {
		return false
	}
	ok, err := filepath.Match(pat[0], segs[0])
	if err != nil || !ok {
		return false
	}
	return match(pat[1:], segs[1:])
}

// tarball packs dir into a gzip tarball, leaving out what .dockerignore
// excludes. Paths in the archive are relative to dir, as the rack's
// builder expects a build context.
func tarball(dir string) ([]byte, error) {
	ig, err := readIgnore(dir)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if ig.excluded(rel) {
			// Without "!" rules nothing below an excluded directory can
			// come back, so the walk can skip it (node_modules is big).
			if d.IsDir() && !ig.negation {
				return filepath.SkipDir
			}
			// An excluded directory gets no entry of its own; files
			// re-included below it still go in (extraction makes parents).
			return nil
		}
		return addFile(tw, p, rel, d)
	})
	if err != nil {
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

func addFile(tw *tar.Writer, p, rel string, d fs.DirEntry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	link := ""
	if info.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	} else if !info.Mode().IsRegular() && !info.IsDir() {
		return nil // sockets, fifos and devices have no place in a build context
	}
	h, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	h.Name = rel
	if info.IsDir() {
		h.Name += "/"
	}
	// Owner names and ids of the packer's machine mean nothing to the
	// builder and would make identical sources produce different archives.
	h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
