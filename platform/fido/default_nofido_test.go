//go:build !cgo || nofido

package fido_test

import (
	"testing"

	"github.com/rack-gateway/rack-gateway/platform/fido"
)

func TestDefaultIsUnavailable(t *testing.T) {
	if got := fido.Default().Name(); got != fido.NameUnavailable {
		t.Errorf("Default().Name() = %q; want %q in a build without libfido2", got, fido.NameUnavailable)
	}
}
