package convox

import (
	"context"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
)

// Each verb's flags live in a typed options struct with a bind method that
// binds its fields to the invocation's flag set (pflag's ...VarP), so no
// command reads a flag back by name and a misspelt name cannot silently
// read as "". Flag groups several verbs share (appOption, outputOption)
// are small structs of their own that the verbs' structs embed. A bind
// method defines its flags in the order help lists them.

// optionsPtr is a pointer to an options struct O that can bind itself.
type optionsPtr[O any] interface {
	*O
	bind(fs *pflag.FlagSet)
}

// bindRun makes a kit.Command.Bind from run: every invocation gets a fresh
// O, bound to that invocation's flag set, and run sees it once the command
// line is parsed.
func bindRun[O any, P optionsPtr[O]](run func(context.Context, *kit.Ctx, *O) error) func(*pflag.FlagSet) kit.Runner {
	return func(fs *pflag.FlagSet) kit.Runner {
		o := new(O)
		P(o).bind(fs)
		return func(ctx context.Context, x *kit.Ctx) error { return run(ctx, x, o) }
	}
}

// appOption is -a/--app, which every app-scoped Convox command takes; see
// resolveApp for what an empty value falls back to.
type appOption struct{ app string }

func (o *appOption) bind(fs *pflag.FlagSet) {
	fs.StringVarP(&o.app, "app", "a", "", "App name (default: $CONVOX_APP, .convox/app, then the directory name)")
}

// outputOption is --output, for commands that can print JSON.
type outputOption struct{ output kit.Output }

func (o *outputOption) bind(fs *pflag.FlagSet) {
	kit.BindOutput(fs, &o.output, "", "", "Output format: json")
}

// json reports whether --output json was asked for, refusing other
// formats so a typo does not silently print a table to a script.
func (o outputOption) json(cmd *kit.Command) (bool, error) { return o.output.JSON(cmd) }

// appOutputOptions are the options of a read command on one app:
// -a/--app and --output.
type appOutputOptions struct {
	appOption
	outputOption
}

func (o *appOutputOptions) bind(fs *pflag.FlagSet) {
	o.appOption.bind(fs)
	o.outputOption.bind(fs)
}

// optionalInt is an int flag that remembers whether it was given, for
// flags whose absence means "leave it as it is" rather than 0. Help shows
// it as an int flag without a default.
type optionalInt struct {
	val int
	set bool
}

// Set parses s as pflag's int flags do.
func (o *optionalInt) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return err
	}
	o.val, o.set = int(v), true
	return nil
}

func (o *optionalInt) String() string { return strconv.Itoa(o.val) }
func (o *optionalInt) Type() string   { return "int" }

// optionalString is a string flag that remembers whether it was given, so
// an explicit empty value can differ from none.
type optionalString struct {
	val string
	set bool
}

// Set records s.
func (o *optionalString) Set(s string) error {
	o.val, o.set = s, true
	return nil
}

func (o *optionalString) String() string { return o.val }
func (o *optionalString) Type() string   { return "string" }
