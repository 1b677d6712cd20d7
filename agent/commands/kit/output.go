package kit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/ipc"
)

// Output is the value of a command's --output flag (json, table, text,
// token, …), as the user typed it. A command keeps one in its options
// struct, binds it with BindOutput and checks it with Format before it
// prints anything.
type Output string

// BindOutput defines --output on fs, bound to o. shorthand ("" for none,
// "o" for the native commands), def (the default value) and usage are the
// command's own, so each keeps its help text.
func BindOutput(fs *pflag.FlagSet, o *Output, shorthand, def, usage string) {
	fs.StringVarP((*string)(o), "output", shorthand, def, usage)
}

// Format returns o trimmed and lower-cased when it is one of allowed
// (include "" when no --output is fine), and otherwise a usage error for
// cmd naming the value and the formats allowed, so a typo does not
// silently print a table to a script. Allowed values are lower case.
func (o Output) Format(cmd *Command, allowed ...string) (string, error) {
	f := strings.ToLower(strings.TrimSpace(string(o)))
	var named []string
	for _, a := range allowed {
		if f == a {
			return f, nil
		}
		if a != "" {
			named = append(named, a)
		}
	}
	return "", UsageErr(cmd, "unknown output format %q: use %s", string(o), strings.Join(named, ", "))
}

// JSON reports whether o asks for JSON, for commands whose only formats
// are the default and json: Format(cmd, "", "json") == "json".
func (o Output) JSON(cmd *Command) (bool, error) {
	f, err := o.Format(cmd, "", "json")
	return f == "json", err
}

// PrintJSON writes v to w as two-space indented JSON and a newline. A nil
// slice prints as [] so a script can always parse a list as an array.
func PrintJSON(w io.Writer, v any) error {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
		v = []struct{}{}
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return ipc.Errorf(ipc.CodeInternal, "encode output: %v", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// PrintRaw writes a server's JSON body to w re-indented like PrintJSON, so
// --output json shows every field the server sent, not only those this
// client decodes. A body that is not JSON is written as it is.
func PrintRaw(w io.Writer, body []byte) error {
	var buf bytes.Buffer
	// json.Indent keeps the body's trailing newline (most servers end
	// with one); the output ends with exactly one.
	if err := json.Indent(&buf, bytes.TrimRight(body, " \t\r\n"), "", "  "); err != nil {
		_, err = w.Write(body)
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// PrintTable prints a Convox-style table: upper-case headers, columns
// separated by two spaces.
func PrintTable(w io.Writer, headers []string, rows [][]string) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// An empty last cell leaves padding behind; scripts and diffs should
	// not see trailing blanks. The table leaves in one write: each write
	// is a frame to the CLI and a write(2) on the user's terminal.
	var out strings.Builder
	out.Grow(buf.Len())
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line == "" {
			continue
		}
		out.WriteString(strings.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	_, err := io.WriteString(w, out.String())
	return err
}
