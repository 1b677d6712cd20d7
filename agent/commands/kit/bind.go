package kit

import (
	"context"

	"github.com/spf13/pflag"
)

// Verb is one invocation's options: Bind ties its fields to the
// invocation's flag set, and Run sees the values parsed into them.
type Verb interface {
	Bind(fs *pflag.FlagSet)
	Run(ctx context.Context, x *Ctx) error
}

// BindNew is a Command.Bind that makes a new T for each invocation, so no
// flag value outlives the command line it came from.
func BindNew[T any, P interface {
	*T
	Verb
}]() func(fs *pflag.FlagSet) Runner {
	return func(fs *pflag.FlagSet) Runner {
		o := P(new(T))
		o.Bind(fs)
		return o.Run
	}
}
