package mfa

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"

	"github.com/boombuler/barcode/qr"
)

// QR codes for the otpauth:// URI of a TOTP enrolment. The terminal
// rendering packs two module rows into one line of Unicode half blocks, so
// the code keeps its square shape: a cell's upper half is the upper row,
// its lower half the row below.

// qrQuiet is the quiet zone, in modules, the QR specification asks for
// around the symbol; scanners need it to find the code.
const qrQuiet = 4

// qrPNGScale is the PNG's pixels per module.
const qrPNGScale = 8

// The half-block glyphs by (upper dark, lower dark).
const (
	glyphBoth  = "█"
	glyphUpper = "▀"
	glyphLower = "▄"
	glyphNone  = " "
)

// ANSI: black ink on a white ground, whatever the terminal's colours, and
// back to normal at the end of each line.
const (
	ansiInk   = "\x1b[30;47m"
	ansiReset = "\x1b[0m"
)

// qrMatrix encodes content (error correction M, the usual choice for
// authenticator apps) and returns its modules, true for dark, without a
// quiet zone: m[y][x].
func qrMatrix(content string) ([][]bool, error) {
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("encode QR code: %w", err)
	}
	b := code.Bounds()
	m := make([][]bool, b.Dy())
	for y := range m {
		m[y] = make([]bool, b.Dx())
		for x := range m[y] {
			r, g, bl, _ := code.At(b.Min.X+x, b.Min.Y+y).RGBA()
			m[y][x] = r+g+bl == 0
		}
	}
	return m, nil
}

// quiet returns m with n light modules added on every side.
func quiet(m [][]bool, n int) [][]bool {
	w := len(m) + 2*n
	if len(m) > 0 {
		w = len(m[0]) + 2*n
	}
	out := make([][]bool, 0, len(m)+2*n)
	for range n {
		out = append(out, make([]bool, w))
	}
	for _, row := range m {
		r := make([]bool, w)
		copy(r[n:], row)
		out = append(out, r)
	}
	for range n {
		out = append(out, make([]bool, w))
	}
	return out
}

// renderHalfBlocks writes m, with its quiet zone, as half-block lines.
// With colour the ink is black on white on any terminal theme; without it
// the glyphs are the dark modules in the terminal's own colours, which
// most phone cameras also read when the theme is dark (an inverted code).
func renderHalfBlocks(w io.Writer, m [][]bool, colour bool) error {
	q := quiet(m, qrQuiet)
	var b bytes.Buffer
	for y := 0; y < len(q); y += 2 {
		if colour {
			b.WriteString(ansiInk)
		}
		for x := range q[y] {
			upper := q[y][x]
			lower := y+1 < len(q) && q[y+1][x]
			switch {
			case upper && lower:
				b.WriteString(glyphBoth)
			case upper:
				b.WriteString(glyphUpper)
			case lower:
				b.WriteString(glyphLower)
			default:
				b.WriteString(glyphNone)
			}
		}
		if colour {
			b.WriteString(ansiReset)
		}
		b.WriteByte('\n')
	}
	_, err := w.Write(b.Bytes())
	return err
}

// qrPNG renders m as a PNG: qrPNGScale pixels per module, the quiet zone
// included, black on white.
func qrPNG(m [][]bool) ([]byte, error) {
	q := quiet(m, qrQuiet)
	size := len(q) * qrPNGScale
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	for y, row := range q {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := range qrPNGScale {
				for dx := range qrPNGScale {
					img.SetColorIndex(x*qrPNGScale+dx, y*qrPNGScale+dy, 1)
				}
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("encode PNG: %w", err)
	}
	return b.Bytes(), nil
}
