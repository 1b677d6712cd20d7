package mfa

import (
	"bytes"
	"fmt"
	"image/png"
	"strings"
	"testing"

	"github.com/boombuler/barcode/qr"
)

// The renderings are checked by reading them back into modules and
// comparing with boombuler's own encoding of the content, module by
// module: what a scanner would decode is then exactly that content.

const testURI = "otpauth://totp/Rack%20Gateway:admin@example.com?algorithm=SHA1&digits=6&issuer=Rack%20Gateway&period=30&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// want is qr.Encode's matrix, read independently of qrMatrix.
func want(t *testing.T, content string) [][]bool {
	t.Helper()
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		t.Fatal(err)
	}
	n := code.Bounds().Dx()
	m := make([][]bool, n)
	for y := range m {
		m[y] = make([]bool, n)
		for x := range m[y] {
			r, _, _, _ := code.At(x, y).RGBA()
			m[y][x] = r == 0
		}
	}
	return m
}

// parseHalfBlocks reads renderHalfBlocks' lines back into modules, the
// quiet zone cut off.
func parseHalfBlocks(lines []string) ([][]bool, error) {
	var q [][]bool
	for _, line := range lines {
		line = strings.ReplaceAll(strings.ReplaceAll(line, ansiInk, ""), ansiReset, "")
		var upper, lower []bool
		for _, r := range line {
			u, l := false, false
			switch string(r) {
			case glyphBoth:
				u, l = true, true
			case glyphUpper:
				u = true
			case glyphLower:
				l = true
			case glyphNone:
			default:
				return nil, fmt.Errorf("not a half-block glyph: %q", r)
			}
			upper, lower = append(upper, u), append(lower, l)
		}
		q = append(q, upper, lower)
	}
	if len(q) == 0 {
		return nil, fmt.Errorf("no lines")
	}
	w := len(q[0])
	if len(q) == w+1 { // an odd number of rows: the last half line is empty
		q = q[:w]
	}
	n := w - 2*qrQuiet
	if n <= 0 || len(q) != w {
		return nil, fmt.Errorf("%d rows of %d: not a square code", len(q), w)
	}
	m := make([][]bool, n)
	for y := range m {
		for x := range q[y] {
			if (y < qrQuiet || y >= qrQuiet+n || x < qrQuiet || x >= qrQuiet+n) && q[y][x] {
				return nil, fmt.Errorf("dark module in the quiet zone at %d,%d", x, y)
			}
		}
		m[y] = q[y+qrQuiet][qrQuiet : qrQuiet+n]
	}
	for _, row := range q[:qrQuiet] {
		for _, d := range row {
			if d {
				return nil, fmt.Errorf("dark module in the top quiet zone")
			}
		}
	}
	return m, nil
}

func sameModules(t *testing.T, got, want [][]bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for y := range want {
		for x := range want[y] {
			if len(got[y]) != len(want[y]) || got[y][x] != want[y][x] {
				t.Fatalf("module %d,%d differs", x, y)
			}
		}
	}
}

func TestHalfBlocksReadBackToTheCode(t *testing.T) {
	for _, colour := range []bool{false, true} {
		m, err := qrMatrix(testURI)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := renderHalfBlocks(&b, m, colour); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if n := len(m) + 2*qrQuiet; len(lines) != (n+1)/2 {
			t.Fatalf("%d lines for %d module rows", len(lines), n)
		}
		got, err := parseHalfBlocks(lines)
		if err != nil {
			t.Fatal(err)
		}
		sameModules(t, got, want(t, testURI))
	}
}

func TestPNGReadsBackToTheCode(t *testing.T) {
	m, err := qrMatrix(testURI)
	if err != nil {
		t.Fatal(err)
	}
	data, err := qrPNG(m)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	side := (len(m) + 2*qrQuiet) * qrPNGScale
	if b := img.Bounds(); b.Dx() != side || b.Dy() != side {
		t.Fatalf("image %v, want %d square", b, side)
	}
	got := make([][]bool, len(m))
	for y := range got {
		got[y] = make([]bool, len(m))
		for x := range got[y] {
			r, _, _, _ := img.At((x+qrQuiet)*qrPNGScale+qrPNGScale/2, (y+qrQuiet)*qrPNGScale+qrPNGScale/2).RGBA()
			got[y][x] = r < 0x8000
		}
	}
	sameModules(t, got, want(t, testURI))
}
